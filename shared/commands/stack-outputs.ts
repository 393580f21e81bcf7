import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

import { type AwsClientSettings, SetupError } from './command';

/**
 * The deployed stack's outputs (see lib/pipeline-stack.ts), so commands need no ARNs typed in; on
 * the local endpoint, the local stack's (local/cloudformation/stack-api.ts).
 * @param localOption - the `npm start` option that does the same on the local pipeline, e.g. `--failures`
 */
export async function readStackOutputs(
  stackName: string,
  localOption: string,
  aws: AwsClientSettings = {},
): Promise<Record<string, string>> {
  const setupProblem = (problem: string) =>
    new SetupError(
      `this command reads the deployed stack "${stackName}" with your AWS credentials, and ${problem}: ` +
        'set AWS_REGION and AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account the stack ' +
        `is deployed in (npx cdk deploy), or pass --stack; for the local pipeline run npm start -- ${localOption}`,
    );
  const client = new CloudFormationClient(aws);
  let response;
  try {
    response = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const { name, message } = error as Error;
    // The SDK's own words: "Region is missing", "Could not load credentials from any providers",
    // "Stack with id X does not exist" (a ValidationError).
    if (message === 'Region is missing') throw setupProblem('no AWS region is set');
    if (name === 'CredentialsProviderError') throw setupProblem('no AWS credentials were found');
    if (name === 'ValidationError' && /does not exist/.test(message)) {
      throw setupProblem('no such stack exists in that account and region');
    }
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
      const endpoint = aws.endpoint ?? process.env.AWS_ENDPOINT_URL;
      throw new SetupError(
        `nothing answers at ${endpoint ?? 'the CloudFormation endpoint'} (${message}): ` +
          `start the local pipeline with npm start and use the AWS_ENDPOINT_URL its banner prints, or unset AWS_ENDPOINT_URL to reach AWS`,
      );
    }
    throw error;
  } finally {
    client.destroy();
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
