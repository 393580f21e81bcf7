import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** What the machine lacks to reach the deployed stack (no region, no credentials, no such stack): exit 2. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}

/**
 * The deployed stack's outputs (see lib/pipeline-stack.ts), so commands need no ARNs typed in.
 * @param localOption - the `npm start` option that does the same on the local pipeline, e.g. `--failures`
 */
export async function readStackOutputs(
  stackName: string,
  localOption: string,
): Promise<Record<string, string>> {
  const setupProblem = (problem: string) =>
    new SetupError(
      `this command reads the deployed stack "${stackName}" with your AWS credentials, and ${problem}: ` +
        'set AWS_REGION and AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account the stack ' +
        `is deployed in (npx cdk deploy), or pass --stack; for the local pipeline run npm start -- ${localOption}`,
    );
  let response;
  try {
    response = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const { name, message } = error as Error;
    // The SDK's own words: "Region is missing", "Could not load credentials from any providers",
    // "Stack with id X does not exist" (a ValidationError).
    if (message === 'Region is missing') throw setupProblem('no AWS region is set');
    if (name === 'CredentialsProviderError') throw setupProblem('no AWS credentials were found');
    if (name === 'ValidationError' && /does not exist/.test(message)) {
      throw setupProblem('no such stack exists in that account and region');
    }
    throw error;
  }
  const stack = response.Stacks?.[0];
  if (!stack) throw setupProblem('no such stack exists in that account and region');
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

/** Prints one line and exits non-zero (2 for a missing set-up): operators want the problem, not a stack trace. */
export function exitWithError(err: unknown): never {
  console.error(`error: ${(err as Error).message ?? String(err)}`);
  process.exit((err as Error).name === 'SetupError' ? 2 : 1);
}
