import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { endpointEnvironment } from '../../local/cli/banner';
import type { LocalPipeline } from '../../local/pipeline';
import { STACK_NAME } from '../../shared/stack-name';
import { startTestPipeline } from '../local/support/pipeline';
import { synthesizedTemplate } from '../local/support/synthesized-template';

/**
 * The local endpoint through Debian's awscli 2.9 and python3-boto3 1.26 (`npm run test:examples`,
 * not part of `npm test`): clients that speak the query protocol to SQS and CloudFormation and
 * ignore AWS_ENDPOINT_URL, so they get `--endpoint-url` / `endpoint_url=`. Their environment is the
 * block the banner prints.
 */

const PYTHON = '/usr/bin/python3';
const run = promisify(execFile);

let pipeline: LocalPipeline;
let environment: NodeJS.ProcessEnv;
/** The CLI's exit code for a service's error: 254 from version 2 (Debian's 2.9), 255 before. */
let serviceErrorExit: number;

beforeAll(async () => {
  for (const [command, args, pkg] of [
    ['aws', ['--version'], 'awscli'],
    [PYTHON, ['-c', 'import boto3'], 'python3-boto3'],
  ] as const) {
    await run(command, [...args]).catch(() => {
      throw new Error(
        `${command} is missing: install Debian's ${pkg} (apt-get install -y ${pkg}), which \`npm run test:examples\` needs`,
      );
    });
  }
  const { stdout: version } = await run('aws', ['--version']);
  serviceErrorExit = /^aws-cli\/1\./.test(version) ? 255 : 254;
  pipeline = await startTestPipeline(await synthesizedTemplate());
  environment = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // No profile of the machine's user may change what the clients send.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    ...endpointEnvironment(pipeline.endpoint),
  };
});

afterAll(async () => {
  await pipeline?.stop({ drain: false });
});

/** The AWS CLI against the endpoint: its output parsed, or its error and exit code. */
async function aws(...args: string[]): Promise<{ json?: unknown; error?: string; code: number }> {
  try {
    const { stdout } = await run('aws', ['--endpoint-url', pipeline.endpoint, '--output', 'json', ...args], {
      env: environment,
    });
    return { json: stdout.trim() === '' ? undefined : JSON.parse(stdout), code: 0 };
  } catch (error) {
    const failed = error as { stderr: string; code: number };
    return { error: failed.stderr.trim(), code: failed.code };
  }
}

describe('awscli 2.9', () => {
  test('uploads an object the pipeline then processes', async () => {
    const key = `${pipeline.inputPrefix}from-awscli.csv`;
    await run(
      'aws',
      ['--endpoint-url', pipeline.endpoint, 's3', 'cp', 'samples/data.csv', `s3://${pipeline.bucket}/${key}`],
      {
        env: environment,
      },
    );
    await pipeline.waitForIdle();
    expect(pipeline.executions().map((e) => [e.key, e.status])).toContainEqual([key, 'SUCCEEDED']);
  });

  test('lists the bucket one key a page, as it lists it whole', async () => {
    const list = (...more: string[]) =>
      aws('s3api', 'list-objects-v2', '--bucket', pipeline.bucket, '--query', 'Contents[].Key', ...more);
    const whole = await list();
    expect((whole.json as string[]).length).toBeGreaterThanOrEqual(2);
    expect(await list('--page-size', '1')).toEqual(whole);
  });

  test('SQS over the query protocol: send, receive with attributes, delete; a missing queue', async () => {
    const queueName = pipeline.deadLetters.queue.url.split('/').pop()!;
    const { json: found } = await aws('sqs', 'get-queue-url', '--queue-name', queueName);
    expect(found).toEqual({ QueueUrl: pipeline.deadLetters.queue.url });
    const url = pipeline.deadLetters.queue.url;
    await aws(
      'sqs',
      'send-message',
      '--queue-url',
      url,
      '--message-body',
      'from awscli',
      '--message-attributes',
      '{"k":{"DataType":"String","StringValue":"v"}}',
    );
    const { json: received } = await aws(
      'sqs',
      'receive-message',
      '--queue-url',
      url,
      '--message-attribute-names',
      'All',
      '--attribute-names',
      'All',
    );
    const [message] = (received as { Messages: Array<Record<string, unknown>> }).Messages;
    expect(message).toMatchObject({
      Body: 'from awscli',
      MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
      Attributes: { ApproximateReceiveCount: '1' },
    });
    expect(
      (
        await aws(
          'sqs',
          'delete-message',
          '--queue-url',
          url,
          '--receipt-handle',
          String(message.ReceiptHandle),
        )
      ).code,
    ).toBe(0);
    expect(pipeline.deadLetters.queue.size).toBe(0);

    const missing = await aws('sqs', 'get-queue-url', '--queue-name', 'no-such-queue');
    expect(missing.code).toBe(serviceErrorExit);
    expect(missing.error).toBe(
      'An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: The specified queue does not exist.',
    );
  });

  test('Step Functions: the state machines, an execution listed by status, its history, and a missing execution', async () => {
    const key = `${pipeline.inputPrefix}for-stepfunctions.txt`;
    await pipeline.upload(key, 'x');
    await pipeline.waitForIdle();
    const execution = pipeline.executions().find((e) => e.key === key)!;
    expect(execution.status).toBe('SUCCEEDED');

    const { json: machines } = await aws('stepfunctions', 'list-state-machines');
    expect((machines as { stateMachines: Array<{ stateMachineArn: string }> }).stateMachines).toContainEqual(
      expect.objectContaining({ stateMachineArn: pipeline.stateMachine.arn }),
    );
    const { json: succeeded } = await aws(
      'stepfunctions',
      'list-executions',
      '--state-machine-arn',
      pipeline.stateMachine.arn,
      '--status-filter',
      'SUCCEEDED',
    );
    expect((succeeded as { executions: Array<{ executionArn: string }> }).executions).toContainEqual(
      expect.objectContaining({ executionArn: execution.executionArn, status: 'SUCCEEDED' }),
    );
    const { json: history } = await aws(
      'stepfunctions',
      'get-execution-history',
      '--execution-arn',
      execution.executionArn,
    );
    const types = (history as { events: Array<{ type: string }> }).events.map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');

    const missing = await aws(
      'stepfunctions',
      'describe-execution',
      '--execution-arn',
      `${execution.executionArn}-missing`,
    );
    expect(missing.code).toBe(serviceErrorExit);
    expect(missing.error).toContain(
      'An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation',
    );
  });

  test('Step Functions refuses as AWS words it: a name too long, a name used before; the state machine of an execution', async () => {
    const arn = pipeline.stateMachine.arn;
    const long = await aws(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      arn,
      '--name',
      'n'.repeat(81),
    );
    expect(long.error).toBe(
      `An error occurred (ValidationException) when calling the StartExecution operation: 1 validation error detected: Value '${'n'.repeat(81)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80`,
    );
    const { json: started } = await aws(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      arn,
      '--name',
      'once',
    );
    const { executionArn } = started as { executionArn: string };
    const again = await aws(
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      arn,
      '--name',
      'once',
      '--input',
      '{"other":1}',
    );
    expect(again.error).toBe(
      `An error occurred (ExecutionAlreadyExists) when calling the StartExecution operation: Execution Already Exists: '${executionArn}'`,
    );
    const { json: machine } = await aws(
      'stepfunctions',
      'describe-state-machine-for-execution',
      '--execution-arn',
      executionArn,
    );
    expect(machine).toMatchObject({ stateMachineArn: arn, roleArn: expect.stringContaining(':role/') });
  });

  test('CloudFormation outputs, DynamoDB tables, and what is not served', async () => {
    const { json: outputs } = await aws(
      'cloudformation',
      'describe-stacks',
      '--stack-name',
      STACK_NAME,
      '--query',
      'Stacks[0].Outputs[?OutputKey==`DeadLetterQueueUrl`].OutputValue',
    );
    expect(outputs).toEqual([pipeline.deadLetters.queue.url]);
    expect((await aws('dynamodb', 'list-tables')).json).toEqual({
      TableNames: pipeline.dynamodb.tables.map((table) => table.tableName),
    });
    const lambda = await aws('lambda', 'list-functions');
    expect(lambda.code).toBe(serviceErrorExit);
    expect(lambda.error).toContain('The local endpoint serves no service "lambda"');
  });
});

describe('boto3 1.26', () => {
  test('SQS over the query protocol: one PurgeQueue a minute; CloudFormation names an unknown stack as AWS does', async () => {
    const script = `
import json, sys, boto3, botocore
endpoint, queue_url = sys.argv[1:3]
out = {}
sqs = boto3.client('sqs', endpoint_url=endpoint)
sqs.purge_queue(QueueUrl=queue_url)
try:
    sqs.purge_queue(QueueUrl=queue_url)
except botocore.exceptions.ClientError as error:
    out['purge'] = [error.response['Error']['Code'], error.response['ResponseMetadata']['HTTPStatusCode']]
try:
    boto3.client('cloudformation', endpoint_url=endpoint).describe_stacks(StackName='Other')
except botocore.exceptions.ClientError as error:
    out['stack'] = error.response['Error']['Message']
print(json.dumps(out))
`;
    const { stdout } = await run(PYTHON, ['-c', script, pipeline.endpoint, pipeline.deadLetters.queue.url], {
      env: environment,
    });
    expect(JSON.parse(stdout)).toEqual({
      purge: ['AWS.SimpleQueueService.PurgeQueueInProgress', 403],
      stack: 'Stack with id Other does not exist',
    });
  });

  test('S3, SQS, DynamoDB, CloudFormation and Step Functions through endpoint_url=, with their errors', async () => {
    const script = `
import json, sys, boto3, botocore
endpoint, bucket, queue_url, stack = sys.argv[1:5]
client = lambda service: boto3.client(service, endpoint_url=endpoint)
out = {}
s3 = client('s3')
s3.put_object(Bucket=bucket, Key='from-boto3/a.txt', Body=b'a')
out['keys'] = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='from-boto3/')['Contents']]
sqs = client('sqs')
sqs.send_message(QueueUrl=queue_url, MessageBody='from boto3')
message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)['Messages'][0]
out['body'] = message['Body']
out['batch'] = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[{'Id': 'a', 'ReceiptHandle': message['ReceiptHandle']}])['Successful']
try:
    sqs.get_queue_url(QueueName='no-such-queue')
except botocore.exceptions.ClientError as error:
    out['sqs_error'] = [error.response['Error']['Code'], error.response['ResponseMetadata']['HTTPStatusCode']]
out['tables'] = client('dynamodb').list_tables()['TableNames']
try:
    client('dynamodb').describe_table(TableName='nope')
except botocore.exceptions.ClientError as error:
    out['dynamodb_error'] = error.response['Error']['Code']
cfn = client('cloudformation')
out['outputs'] = {o['OutputKey']: o['OutputValue'] for o in cfn.describe_stacks(StackName=stack)['Stacks'][0]['Outputs']}
try:
    cfn.describe_stacks(StackName='Other')
except botocore.exceptions.ClientError as error:
    out['cfn_error'] = [error.response['Error']['Code'], error.response['ResponseMetadata']['HTTPStatusCode']]
sfn = client('stepfunctions')
out['machines'] = [m['stateMachineArn'] for m in sfn.list_state_machines()['stateMachines']]
try:
    sfn.describe_execution(executionArn=sys.argv[5])
except botocore.exceptions.ClientError as error:
    out['sfn_error'] = [error.response['Error']['Code'], error.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps(out))
`;
    const { stdout } = await run(
      PYTHON,
      [
        '-c',
        script,
        pipeline.endpoint,
        pipeline.bucket,
        pipeline.deadLetters.queue.url,
        STACK_NAME,
        pipeline.stateMachine.arn.replace(':stateMachine:', ':execution:') + ':no-such-execution',
      ],
      { env: environment },
    );
    expect(JSON.parse(stdout)).toEqual({
      keys: ['from-boto3/a.txt'],
      body: 'from boto3',
      batch: [{ Id: 'a' }],
      sqs_error: ['AWS.SimpleQueueService.NonExistentQueue', 400],
      tables: pipeline.dynamodb.tables.map((table) => table.tableName),
      dynamodb_error: 'ResourceNotFoundException',
      outputs: expect.objectContaining({
        BucketName: pipeline.bucket,
        DeadLetterQueueUrl: pipeline.deadLetters.queue.url,
        StateMachineArn: pipeline.stateMachine.arn,
      }),
      cfn_error: ['ValidationError', 400],
      machines: expect.arrayContaining([pipeline.stateMachine.arn]),
      sfn_error: ['ExecutionDoesNotExist', 400],
    });
  });
});
