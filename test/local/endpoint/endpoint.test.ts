import { Agent } from 'node:http';

import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Sha256 } from '@smithy/core/checksum';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';

import { endpointEnvironment } from '../../../local/cli/banner';
import type { LocalPipeline } from '../../../local/pipeline';
import { LOCAL_S3_CREDENTIALS } from '../../../local/s3/server';
import { readStackOutputs } from '../../../shared/commands/stack-outputs';
import { STACK_NAME } from '../../../shared/stack-name';
import { startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';
import { setEnvironment } from './environment';

/**
 * The local endpoint through the AWS SDK for JavaScript v3's own clients, unchanged but for the
 * endpoint: every service on one port, and AWS's error shapes for each protocol (the SDK's parsing,
 * and the raw bytes where the SDK would hide them).
 */

let pipeline: LocalPipeline;
let config: {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
};
let dlqUrl: string;

beforeAll(async () => {
  // DISABLED: objects written here start nothing, so each test sees only what it does.
  pipeline = await startTestPipeline(await synthesizedTemplate(), { ruleState: 'DISABLED' });
  config = { endpoint: pipeline.endpoint, region: 'us-east-1', credentials: { ...LOCAL_S3_CREDENTIALS } };
  dlqUrl = pipeline.deadLetters.queue.url;
});

afterAll(async () => {
  await pipeline?.stop({ drain: false });
});

/**
 * A request as a client sends it, signed (SigV4, by the SDK's signer) for `service` with the local
 * administrator's key, or with `secretAccessKey` / `accessKeyId` when given.
 */
async function raw(
  service: string,
  init: {
    body: string;
    target?: string;
    contentType?: string;
    accessKeyId?: string;
    secretAccessKey?: string;
  },
): Promise<{ status: number; headers: Headers; text: string }> {
  const url = new URL(pipeline.endpoint);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: init.accessKeyId ?? LOCAL_S3_CREDENTIALS.accessKeyId,
      secretAccessKey: init.secretAccessKey ?? LOCAL_S3_CREDENTIALS.secretAccessKey,
    },
    region: 'us-east-1',
    service,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    query: {},
    headers: {
      host: url.host,
      'content-type': init.contentType ?? 'application/x-www-form-urlencoded; charset=utf-8',
      ...(init.target && { 'x-amz-target': init.target }),
    },
    body: init.body,
  });
  // fetch sets Host itself, to the value signed.
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
  const response = await fetch(`${pipeline.endpoint}/`, { method: 'POST', headers, body: init.body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('S3', () => {
  test('path-style and virtual-hosted-style requests reach the same bucket', async () => {
    const s3 = new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await s3.send(new PutObjectCommand({ Bucket: pipeline.bucket, Key: 'endpoint/a.txt', Body: 'a' }));

    // <bucket>.localhost resolves to the loopback address, as it does for curl and browsers.
    const loopback = new Agent({
      lookup: ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) =>
        options.all
          ? callback(null, [{ address: '127.0.0.1', family: 4 }])
          : callback(null, '127.0.0.1', 4)) as never,
    });
    const virtual = new S3Client({
      ...config,
      endpoint: `http://localhost:${pipeline.port}`,
      forcePathStyle: false,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: new NodeHttpHandler({ httpAgent: loopback }),
    });
    const listed = await virtual.send(
      new ListObjectsV2Command({ Bucket: pipeline.bucket, Prefix: 'endpoint/' }),
    );
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['endpoint/a.txt']);
    const got = await virtual.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: 'endpoint/a.txt' }));
    expect(await got.Body?.transformToString()).toBe('a');
    s3.destroy();
    virtual.destroy();
  });
});

describe('DynamoDB', () => {
  test("serves the template's tables, and DynamoDB's errors; checks the signature", async () => {
    const dynamodb = new DynamoDBClient(config);
    const { TableNames } = await dynamodb.send(new ListTablesCommand({}));
    expect(TableNames).toEqual(pipeline.dynamodb.tables.map((table) => table.tableName));
    await expect(dynamodb.send(new DescribeTableCommand({ TableName: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    dynamodb.destroy();
    const forger = new DynamoDBClient({
      ...config,
      credentials: { accessKeyId: LOCAL_S3_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    await expect(forger.send(new ListTablesCommand({}))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 400 },
    });
    forger.destroy();
  });
});

describe('SQS (JSON protocol, as SDK v3 speaks it)', () => {
  let sqs: SQSClient;
  beforeAll(() => {
    sqs = new SQSClient(config);
  });
  afterAll(() => sqs.destroy());
  // SQS takes one PurgeQueue a minute per queue: each test's waits out the last one on the pipeline's clock.
  let purgedAt: number | undefined;
  afterEach(async () => {
    if (purgedAt !== undefined)
      await pipeline.clock.sleep(Math.max(0, purgedAt + 60_000 - pipeline.clock.now()));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: dlqUrl }));
    purgedAt = pipeline.clock.now();
  });

  test("lists and finds the template's queues", async () => {
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({}));
    expect(QueueUrls).toContain(dlqUrl);
    const name = dlqUrl.split('/').pop()!;
    expect(await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).toMatchObject({ QueueUrl: dlqUrl });
    expect(await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }))).toMatchObject({
      QueueUrls: [dlqUrl],
    });
  });

  test('sends, receives with attributes, hides, shows again, and deletes in a batch', async () => {
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'THROTTLING' } },
      }),
    );
    const receive = () =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp'],
          VisibilityTimeout: 60,
        }),
      );
    const first = await receive();
    expect(first.Messages).toEqual([
      expect.objectContaining({
        MessageId: sent.MessageId,
        Body: '{"hello":"world"}',
        Attributes: {
          ApproximateReceiveCount: '1',
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
        },
        MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'THROTTLING' } },
        MD5OfMessageAttributes: sent.MD5OfMessageAttributes,
      }),
    ]);
    // In flight for 60 s: nothing to receive, counted as not visible.
    expect((await receive()).Messages).toBeUndefined();
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(attributes.Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });

    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: dlqUrl,
        ReceiptHandle: first.Messages![0].ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const second = await receive();
    // Received again: the count goes up, the first receive's time stays.
    expect(second.Messages?.[0]).toMatchObject({
      MessageId: sent.MessageId,
      Attributes: {
        ApproximateReceiveCount: '2',
        ApproximateFirstReceiveTimestamp: first.Messages![0].Attributes!.ApproximateFirstReceiveTimestamp,
      },
    });

    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: [
          { Id: 'current', ReceiptHandle: second.Messages![0].ReceiptHandle },
          { Id: 'made-up', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    expect(deleted.Successful).toEqual([{ Id: 'current' }]);
    expect(deleted.Failed).toEqual([
      expect.objectContaining({ Id: 'made-up', SenderFault: true, Code: 'ReceiptHandleIsInvalid' }),
    ]);
    expect(pipeline.deadLetters.queue.size).toBe(0);
  });

  test("GetQueueAttributes reports the template's settings; SendMessage keeps the queue's limits", async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }),
    );
    const createdAt = String(Math.floor(pipeline.deadLetters.queue.createdAtMs / 1000));
    expect(Attributes).toEqual({
      QueueArn: expect.stringMatching(/^arn:aws:sqs:us-east-1:\d{12}:DeadLettersQueue/),
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
      CreatedTimestamp: createdAt,
      LastModifiedTimestamp: createdAt,
      VisibilityTimeout: '30',
      ReceiveMessageWaitTimeSeconds: '0',
      DelaySeconds: '0',
      MaximumMessageSize: '1048576',
      MessageRetentionPeriod: '1209600', // the template's 14 days, not SQS's default 4
      SqsManagedSseEnabled: 'true',
      Policy: expect.any(String),
    });
    // The queue policy as the template resolves it: TLS only, and EventBridge's rule may send.
    expect(JSON.parse(Attributes!.Policy!)).toMatchObject({
      Statement: expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Allow', Action: 'sqs:SendMessage' }),
      ]),
    });
    // A name SQS knows but this queue has no value for is left out; an unknown one is refused.
    expect(
      (
        await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['FifoQueue', 'DelaySeconds'] }),
        )
      ).Attributes,
    ).toEqual({ DelaySeconds: '0' });
    await expect(
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['Colour' as 'All'] })),
    ).rejects.toMatchObject({ name: 'InvalidAttributeName', message: 'Unknown Attribute Colour.' });

    await sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'later', DelaySeconds: 30 }));
    expect(
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: dlqUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesDelayed'],
          }),
        )
      ).Attributes,
    ).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesDelayed: '1' });
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x', DelaySeconds: 901 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'x'.repeat(1_048_577) })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.',
    });
  });

  test("refuses as SQS does: the SDK's error, and the bytes of the JSON protocol", async () => {
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'no-such-queue' }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
      $metadata: { httpStatusCode: 400 },
    });
    // With the status the model gives it (a 404 for this one), in both protocols.
    await expect(
      sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: 'made-up' })),
    ).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid', $metadata: { httpStatusCode: 404 } });
    const query = await raw('sqs', {
      body: `Action=DeleteMessage&Version=2012-11-05&QueueUrl=${encodeURIComponent(dlqUrl)}&ReceiptHandle=made-up`,
    });
    expect(query.status).toBe(404);
    expect(query.text).toContain('<Code>ReceiptHandleIsInvalid</Code>');

    const missing = await raw('sqs', {
      target: 'AmazonSQS.GetQueueUrl',
      contentType: 'application/x-amz-json-1.0',
      body: '{"QueueName":"no-such-queue"}',
    });
    expect(missing.status).toBe(400);
    expect(missing.headers.get('x-amzn-query-error')).toBe('AWS.SimpleQueueService.NonExistentQueue;Sender');
    expect(JSON.parse(missing.text)).toEqual({
      __type: 'com.amazonaws.sqs#QueueDoesNotExist',
      message: 'The specified queue does not exist.',
    });

    const malformed = await raw('sqs', {
      target: 'AmazonSQS.ListQueues',
      contentType: 'application/x-amz-json-1.0',
      body: '{"QueueNamePrefix":',
    });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toMatchObject({ __type: 'SerializationException' });

    const unknown = await raw('sqs', {
      target: 'AmazonSQS.CreateQueue',
      contentType: 'application/x-amz-json-1.0',
      body: '{"QueueName":"new"}',
    });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text)).toEqual({
      __type: 'UnknownOperationException',
      message: expect.stringContaining('does not serve CreateQueue'),
    });
    const invented = await raw('sqs', {
      target: 'AmazonSQS.Frobnicate',
      contentType: 'application/x-amz-json-1.0',
      body: '{}',
    });
    expect(JSON.parse(invented.text)).toEqual({
      __type: 'UnknownOperationException',
      message: 'The action Frobnicate is not valid for the sqs service',
    });
  });

  test('a request signed with the wrong secret is refused, in either protocol', async () => {
    const forger = new SQSClient({
      ...config,
      credentials: { accessKeyId: LOCAL_S3_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    await expect(forger.send(new ListQueuesCommand({}))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 400 },
    });
    forger.destroy();
    const query = await raw('sqs', { body: 'Action=ListQueues&Version=2012-11-05', secretAccessKey: 'nope' });
    expect(query.status).toBe(403);
    expect(query.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  test('a key the local account never issued is refused', async () => {
    const stranger = new SQSClient({
      ...config,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'x' },
    });
    await expect(stranger.send(new ListQueuesCommand({}))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      $metadata: { httpStatusCode: 400 },
    });
    stranger.destroy();
  });
});

describe('SQS (query protocol, as Debian’s awscli 2.9 and boto3 1.26 speak it)', () => {
  test('answers in XML, with the query error codes', async () => {
    const name = dlqUrl.split('/').pop()!;
    const found = await raw('sqs', { body: `Action=GetQueueUrl&Version=2012-11-05&QueueName=${name}` });
    expect(found.status).toBe(200);
    expect(found.text).toMatch(
      new RegExp(
        `<GetQueueUrlResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><GetQueueUrlResult><QueueUrl>${dlqUrl}</QueueUrl></GetQueueUrlResult><ResponseMetadata><RequestId>[0-9a-f-]+</RequestId></ResponseMetadata></GetQueueUrlResponse>`,
      ),
    );

    const missing = await raw('sqs', { body: 'Action=GetQueueUrl&Version=2012-11-05&QueueName=nope' });
    expect(missing.status).toBe(400);
    expect(missing.text).toMatch(
      /<ErrorResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><Error><Type>Sender<\/Type><Code>AWS.SimpleQueueService.NonExistentQueue<\/Code><Message>The specified queue does not exist.<\/Message><Detail\/><\/Error><RequestId>[0-9a-f-]+<\/RequestId><\/ErrorResponse>/,
    );

    const invalid = await raw('sqs', { body: 'Action=Frobnicate&Version=2012-11-05' });
    expect(invalid.status).toBe(400);
    expect(invalid.text).toContain(
      '<Code>InvalidAction</Code><Message>The action Frobnicate is not valid for the sqs service</Message>',
    );

    const stranger = await raw('sqs', { body: 'Action=ListQueues', accessKeyId: 'AKIAEXAMPLE' });
    expect(stranger.status).toBe(403);
    expect(stranger.text).toContain('<Code>InvalidClientTokenId</Code>');
  });

  test('one PurgeQueue a minute: the next within it is PurgeQueueInProgress, in either protocol', async () => {
    // The JSON suite's last purge may be less than a minute old: wait it out on the pipeline's clock.
    await pipeline.clock.sleep(60_000);
    const purge = `Action=PurgeQueue&Version=2012-11-05&QueueUrl=${encodeURIComponent(dlqUrl)}`;
    expect((await raw('sqs', { body: purge })).status).toBe(200);
    const again = await raw('sqs', { body: purge });
    expect(again.status).toBe(403);
    expect(again.text).toContain(
      `<Code>AWS.SimpleQueueService.PurgeQueueInProgress</Code><Message>Only one PurgeQueue operation on ${dlqUrl.split('/').pop()} is allowed every 60 seconds.</Message>`,
    );
    const sqs = new SQSClient(config);
    await expect(sqs.send(new PurgeQueueCommand({ QueueUrl: dlqUrl }))).rejects.toMatchObject({
      name: 'PurgeQueueInProgress',
      $metadata: { httpStatusCode: 403 },
    });
    sqs.destroy();
  });
});

describe('CloudFormation', () => {
  test('describes the local stack with its outputs resolved, and lists its resources', async () => {
    const cloudformation = new CloudFormationClient(config);
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: STACK_NAME }));
    expect(Stacks).toEqual([
      expect.objectContaining({
        StackName: STACK_NAME,
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: expect.any(Date),
      }),
    ]);
    const outputs = Object.fromEntries(Stacks![0].Outputs!.map((o) => [o.OutputKey, o.OutputValue]));
    expect(outputs).toMatchObject({
      BucketName: pipeline.bucket,
      InputPrefix: pipeline.inputPrefix,
      DeadLetterQueueUrl: dlqUrl,
      StateMachineArn: pipeline.stateMachine.arn,
      RuleName: pipeline.rule.ruleName,
    });

    const { StackResourceSummaries } = await cloudformation.send(
      new ListStackResourcesCommand({ StackName: STACK_NAME }),
    );
    expect(StackResourceSummaries).toContainEqual(
      expect.objectContaining({ ResourceType: 'AWS::SQS::Queue', PhysicalResourceId: dlqUrl }),
    );

    // Worded exactly as CloudFormation words them: tools match these messages.
    await expect(
      cloudformation.send(new DescribeStacksCommand({ StackName: 'Other' })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Stack with id Other does not exist',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      cloudformation.send(new ListStackResourcesCommand({ StackName: undefined as unknown as string })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message:
        "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null",
    });
    const { Stacks: byId } = await cloudformation.send(
      new DescribeStacksCommand({ StackName: Stacks![0].StackId }),
    );
    expect(byId?.map((stack) => stack.StackName)).toEqual([STACK_NAME]);
    cloudformation.destroy();
  });

  test("shared/commands/stack-outputs reads them with only the banner's environment set", async () => {
    const restore = setEnvironment(endpointEnvironment(pipeline.endpoint));
    try {
      expect(await readStackOutputs(STACK_NAME, '--failures')).toMatchObject({ DeadLetterQueueUrl: dlqUrl });
    } finally {
      restore();
    }
  });
});

describe('EventBridge (the rules, as deployed locally)', () => {
  test('describes the rule and lists its targets; an unknown rule is ResourceNotFoundException', async () => {
    const events = new EventBridgeClient(config);
    const rule = await events.send(new DescribeRuleCommand({ Name: pipeline.rule.ruleName }));
    expect(rule).toMatchObject({ Name: pipeline.rule.ruleName, State: 'ENABLED', EventBusName: 'default' });
    expect(JSON.parse(rule.EventPattern!)).toMatchObject({ 'detail-type': ['Object Created'] });
    const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: pipeline.rule.ruleName }));
    expect(Targets).toEqual([
      expect.objectContaining({
        Arn: pipeline.stateMachine.arn,
        InputTransformer: expect.objectContaining({
          InputTemplate: expect.stringContaining('<detail-object-key>'),
        }),
        DeadLetterConfig: { Arn: pipeline.rule.deadLetterQueueArn },
      }),
    ]);
    await expect(events.send(new ListTargetsByRuleCommand({ Rule: 'Other' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    });
    events.destroy();
  });
});

describe('what the endpoint does not serve', () => {
  test('an unsigned request to a signed service is refused', async () => {
    const response = await fetch(`${pipeline.endpoint}/`, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'AmazonSQS.ListQueues', 'Content-Type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
  });

  test('a service it does not know is named in the refusal, in the protocol asked', async () => {
    const json = await raw('lambda', {
      target: 'AWSLambda.ListFunctions',
      contentType: 'application/x-amz-json-1.1',
      body: '{}',
    });
    expect(json.status).toBe(400);
    expect(JSON.parse(json.text)).toEqual({
      __type: 'UnknownOperationException',
      message:
        'The local endpoint serves no service "lambda": it serves s3, dynamodb, sqs, cloudformation, events, states',
    });
    const query = await raw('iam', { body: 'Action=ListRoles&Version=2010-05-08' });
    expect(query.status).toBe(400);
    expect(query.text).toContain(
      '<Code>InvalidAction</Code><Message>The local endpoint serves no service "iam"',
    );
  });

  test("a REST-JSON service's own client reads the refusal: JSON, though its request names no target", async () => {
    // Lambda's ListFunctions is `GET /2015-03-31/functions/`: no X-Amz-Target, no form; XML would
    // reach the client as an unreadable 400.
    await expect(new LambdaClient(config).send(new ListFunctionsCommand({}))).rejects.toMatchObject({
      name: 'UnknownOperationException',
      message:
        'The local endpoint serves no service "lambda": it serves s3, dynamodb, sqs, cloudformation, events, states',
      $metadata: { httpStatusCode: 400 },
    });
  });

  test("a request in a protocol the service does not speak is refused in the service's own", async () => {
    const form = await raw('states', { body: 'Action=ListStateMachines' });
    expect(form.status).toBe(400);
    expect(form.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(form.text)).toEqual({
      __type: 'UnknownOperationException',
      message:
        'The states service speaks the AWS JSON protocol (X-Amz-Target: AWSStepFunctions.<Action>): this request spoke the query protocol',
    });
    const json = await raw('cloudformation', {
      target: 'CloudFormation.DescribeStacks',
      contentType: 'application/x-amz-json-1.0',
      body: '{}',
    });
    expect(json.status).toBe(400);
    expect(json.text).toContain(
      '<Code>InvalidAction</Code><Message>The cloudformation service speaks the query protocol (a form with Action=&#60;Action&#62;, no X-Amz-Target): this request spoke the JSON protocol</Message>',
    );
  });
});
