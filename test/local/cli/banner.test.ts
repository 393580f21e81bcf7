import { endpointBanner } from '../../../local/cli/banner';

/** The banner `npm start` prints: the block to paste, and one sample command per service served. */

const facts = {
  endpoint: 'http://127.0.0.1:4566',
  bucket: 'local-pipeline-bucket',
  inputPrefix: 'incoming/',
  deadLetterQueueUrl: 'http://127.0.0.1:4566/000000000000/DeadLetters',
  ruleName: 'TriggerRule',
  tableNames: ['LaunchGateSlots'],
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow',
};

test('the environment block and a sample command for each service served, none for others', () => {
  const lines = endpointBanner({ ...facts, served: ['s3', 'sqs'] }).split('\n');
  expect(lines.filter((line) => line.startsWith('  export '))).toEqual([
    '  export AWS_ENDPOINT_URL=http://127.0.0.1:4566',
    '  export AWS_ACCESS_KEY_ID=S3RVER',
    '  export AWS_SECRET_ACCESS_KEY=S3RVER',
    '  export AWS_REGION=us-east-1',
    '  export AWS_DEFAULT_REGION=us-east-1',
    '  export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED',
    '  export AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED',
  ]);
  expect(lines).toContain('Local AWS endpoint: http://127.0.0.1:4566 (S3, SQS)');
  expect(lines.filter((line) => line.startsWith('  aws '))).toEqual([
    '  aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp samples/data.csv s3://local-pipeline-bucket/incoming/data.csv',
    '  aws --endpoint-url "$AWS_ENDPOINT_URL" sqs receive-message --queue-url http://127.0.0.1:4566/000000000000/DeadLetters --message-attribute-names All',
  ]);
  expect(lines.join('\n')).not.toContain('npm run failures');
});

test("with Step Functions served, its sample and the project's commands", () => {
  const banner = endpointBanner({
    ...facts,
    served: ['s3', 'dynamodb', 'sqs', 'cloudformation', 'events', 'states'],
  });
  expect(banner).toContain(
    '  aws --endpoint-url "$AWS_ENDPOINT_URL" stepfunctions list-executions --state-machine-arn arn:aws:states:us-east-1:000000000000:stateMachine:Workflow',
  );
  expect(banner).toContain(
    '  aws --endpoint-url "$AWS_ENDPOINT_URL" events list-targets-by-rule --rule TriggerRule',
  );
  expect(banner).toContain('  npm run failures');
});
