import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** The deployed stack's outputs (see lib/pipeline-stack.ts), so commands need no ARNs typed in. */
export async function readStackOutputs(stackName: string): Promise<Record<string, string>> {
  const response = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: stackName }),
  );
  const stack = response.Stacks?.[0];
  if (!stack)
    throw new Error(`stack "${stackName}" was not found: deploy it first (npx cdk deploy) or pass --stack`);
  return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

export function requireOutput(outputs: Record<string, string>, key: string, stackName: string): string {
  const value = outputs[key];
  if (!value) {
    throw new Error(
      `stack "${stackName}" has no output "${key}": redeploy it with this version (npx cdk deploy)`,
    );
  }
  return value;
}

/** Prints one line and exits non-zero: operators want the problem, not a stack trace. */
export function exitWithError(err: unknown): never {
  console.error(`error: ${(err as Error).message ?? String(err)}`);
  process.exit(1);
}
