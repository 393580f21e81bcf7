import { QueryShapeSerializer } from '@aws-sdk/core/protocols';

import { decodeQueryRequest, encodeQueryResponse } from '../../../local/endpoint/query-protocol';
import { WIRE_MODELS } from '../../../local/endpoint/wire-models';

/**
 * The query codec: a request the SDK's own QueryShapeSerializer writes (as botocore writes it)
 * decodes to the input it was written from, for the shapes the query protocol flattens differently:
 * flattened lists and maps (SQS), `member` lists (CloudFormation), nested structures, numbers and
 * booleans.
 */

function roundTrip(service: string, action: string, input: Record<string, unknown>): Record<string, unknown> {
  const operation = WIRE_MODELS.get(service)!.operation(action)!;
  const serializer = new QueryShapeSerializer({ timestampFormat: { useTrait: true, default: 5 } });
  serializer.write(operation.input, input);
  return decodeQueryRequest(
    new URLSearchParams(`Action=${action}&Version=x${serializer.flush()}`),
    operation.input,
  );
}

test.each([
  [
    'sqs',
    'ReceiveMessage',
    {
      QueueUrl: 'q',
      AttributeNames: ['All'],
      MessageAttributeNames: ['a', 'b.*'],
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    },
  ],
  [
    'sqs',
    'SendMessageBatch',
    {
      QueueUrl: 'q',
      Entries: [
        { Id: '1', MessageBody: 'one', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
        { Id: '2', MessageBody: 'two', DelaySeconds: 5 },
      ],
    },
  ],
  ['sqs', 'DeleteMessageBatch', { QueueUrl: 'q', Entries: [{ Id: 'a', ReceiptHandle: 'r' }] }],
  [
    'cloudformation',
    'ListStacks',
    { StackStatusFilter: ['CREATE_COMPLETE', 'UPDATE_COMPLETE'], NextToken: 't' },
  ],
  ['cloudformation', 'DescribeStacks', { StackName: 'S3FargatePipeline' }],
  [
    'cloudformation',
    'CreateStack',
    {
      StackName: 's',
      Parameters: [{ ParameterKey: 'k', ParameterValue: 'v' }],
      DisableRollback: true,
    },
  ],
])('%s %s decodes to what the SDK encoded', (service, action, input: Record<string, unknown>) => {
  const decoded = roundTrip(service, action, input);
  if (action === 'ReceiveMessage') {
    // The query protocol writes AttributeNames and MessageSystemAttributeNames both as AttributeName.N.
    expect(decoded).toEqual({ ...input, MessageSystemAttributeNames: input.AttributeNames });
  } else {
    expect(decoded).toEqual(input);
  }
});

test('a number that is not one is InvalidParameterValue', () => {
  const operation = WIRE_MODELS.get('sqs')!.operation('ReceiveMessage')!;
  expect(() =>
    decodeQueryRequest(new URLSearchParams('QueueUrl=q&MaxNumberOfMessages=ten'), operation.input),
  ).toThrow(expect.objectContaining({ code: 'InvalidParameterValue', statusCode: 400 }));
});

test('answers are <Action>Response/<Action>Result with the shapes flattened as the model says', () => {
  const model = WIRE_MODELS.get('sqs')!;
  const answer = encodeQueryResponse(
    model,
    'GetQueueAttributes',
    model.operation('GetQueueAttributes')!.output,
    { Attributes: { VisibilityTimeout: '30' } },
    'req-1',
  );
  expect(answer.body).toBe(
    '<?xml version="1.0"?>\n' +
      '<GetQueueAttributesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><GetQueueAttributesResult>' +
      '<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>' +
      '</GetQueueAttributesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetQueueAttributesResponse>',
  );
  const empty = encodeQueryResponse(
    model,
    'DeleteMessage',
    model.operation('DeleteMessage')!.output,
    {},
    'req-2',
  );
  expect(empty.body).toBe(
    '<?xml version="1.0"?>\n<DeleteMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></DeleteMessageResponse>',
  );
});
