/**
 * How Step Functions names a service integration's error: `<Service>.<Error>`, "Exception" appended
 * when the service's own name lacks it. The AWS SDK integrations write the service in PascalCase
 * (`DynamoDb.`, `Sqs.`, `Sfn.`, `CloudWatch.`); the optimized ones keep their historical prefixes
 * (`DynamoDB.`, `SQS.`, `ECS.`).
 */

/** The PascalCase service names of the AWS SDK integrations served locally. */
export const SDK_SERVICE_NAMES: Readonly<Record<string, string>> = {
  dynamodb: 'DynamoDb',
  sqs: 'Sqs',
  sfn: 'Sfn',
  cloudwatch: 'CloudWatch',
  eventbridge: 'EventBridge',
};

export function integrationErrorName(prefix: string, error: string): string {
  return `${prefix}.${error.endsWith('Exception') ? error : `${error}Exception`}`;
}
