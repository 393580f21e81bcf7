import { STACK_NAME } from '../../shared/stack-name';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../s3/server';

/**
 * What `npm start` prints while it waits: the local endpoint, and one block to paste into a shell
 * that points every AWS client at it, then one sample command per service served.
 */

export interface BannerFacts {
  /** e.g. `http://127.0.0.1:4566` */
  readonly endpoint: string;
  /** The signing names the endpoint serves (LocalEndpoint.served()). */
  readonly served: readonly string[];
  readonly bucket: string;
  readonly inputPrefix: string;
  readonly deadLetterQueueUrl: string;
  readonly ruleName: string;
  readonly tableNames: readonly string[];
  readonly stateMachineArn: string;
}

/** The environment that points a client at the local endpoint with the local account's administrator key. */
export function endpointEnvironment(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    // Debian's awscli 2.9 and boto3 1.26 read the region from this one only.
    AWS_DEFAULT_REGION: LOCAL_REGION,
    // The SDK's default streaming checksums are refused by s3rver (the local S3).
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

const SERVICE_NAMES: Readonly<Record<string, string>> = {
  s3: 'S3',
  dynamodb: 'DynamoDB',
  sqs: 'SQS',
  cloudformation: 'CloudFormation',
  events: 'EventBridge (rules)',
  states: 'Step Functions',
};

export function endpointBanner(facts: BannerFacts): string {
  const aws = 'aws --endpoint-url "$AWS_ENDPOINT_URL"';
  const samples: Record<string, string> = {
    s3: `${aws} s3 cp samples/data.csv s3://${facts.bucket}/${facts.inputPrefix}data.csv`,
    dynamodb: `${aws} dynamodb scan --table-name ${facts.tableNames[0] ?? '<table>'}`,
    sqs: `${aws} sqs receive-message --queue-url ${facts.deadLetterQueueUrl} --message-attribute-names All`,
    cloudformation: `${aws} cloudformation describe-stacks --stack-name ${STACK_NAME}`,
    events: `${aws} events list-targets-by-rule --rule ${facts.ruleName}`,
    states: `${aws} stepfunctions list-executions --state-machine-arn ${facts.stateMachineArn}`,
  };
  const served = facts.served.filter((service) => service in samples);
  return [
    '',
    `Local AWS endpoint: ${facts.endpoint} (${served.map((service) => SERVICE_NAMES[service]).join(', ')})`,
    'Paste into a shell to point AWS clients at it:',
    ...Object.entries(endpointEnvironment(facts.endpoint)).map(
      ([name, value]) => `  export ${name}=${value}`,
    ),
    "Then (the SDK for JavaScript reads AWS_ENDPOINT_URL; Debian's awscli 2.9 and boto3 1.26 need",
    '--endpoint-url / endpoint_url= given), e.g.:',
    ...served.map((service) => `  ${samples[service]}`),
    // The project's commands need Step Functions (and CloudFormation, SQS, EventBridge) served.
    ...(facts.served.includes('states')
      ? ['  npm run failures    # and redrive, replay-dead-letters, backfill']
      : []),
    `Objects written under "${facts.inputPrefix}" in s3://${facts.bucket} are processed.`,
  ].join('\n');
}
