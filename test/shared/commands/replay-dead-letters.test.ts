import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';

import { replayCommand } from '../../../shared/commands/replay-dead-letters';

/** `npm run replay-dead-letters` against mocked CloudFormation, EventBridge, SQS and Step Functions clients. */

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/DeadLetters';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Workflow';
const RULE_NAME = 'S3FargatePipeline-TriggerRule';
/** The target as ListTargetsByRule returns the deployed one: the rule's input transformer. */
const TARGET = {
  Id: 'Target0',
  Arn: STATE_MACHINE_ARN,
  InputTransformer: {
    InputPathsMap: {
      'detail-bucket-name': '$.detail.bucket.name',
      'detail-object-key': '$.detail.object.key',
    },
    InputTemplate: '{"bucket":<detail-bucket-name>,"key":<detail-object-key>}',
  },
};

/** An "Object Created" event as EventBridge dead-letters it. */
function deadLetter(eventId: string, key: string): Message {
  const event = {
    id: eventId,
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'data-bucket' }, object: { key } },
  };
  return { MessageId: `msg-${eventId}`, ReceiptHandle: `receipt-${eventId}`, Body: JSON.stringify(event) };
}

const cloudFormation = mockClient(CloudFormationClient);
const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);
const sfn = mockClient(SFNClient);

/** GIVEN the deployed stack and a queue holding `messages`, which SQS hands out once per run. */
function queueHolding(messages: Message[]): void {
  cloudFormation.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'S3FargatePipeline',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: [
          { OutputKey: 'DeadLetterQueueUrl', OutputValue: QUEUE_URL },
          { OutputKey: 'StateMachineArn', OutputValue: STATE_MACHINE_ARN },
          { OutputKey: 'RuleName', OutputValue: RULE_NAME },
        ],
      },
    ],
  });
  eventBridge.on(ListTargetsByRuleCommand, { Rule: RULE_NAME }).resolves({ Targets: [TARGET] });
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(DeleteMessageCommand).resolves({});
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  sfn.on(StartExecutionCommand).callsFake(async (input) => ({
    executionArn: `${STATE_MACHINE_ARN}:${input.name}`,
    startDate: new Date(),
  }));
}

async function run(argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await replayCommand(argv, (line) => lines.push(line));
  return { code, lines };
}

const inputsOf = <T extends object>(
  client: { commandCalls: (c: never) => { args: [{ input: T }] }[] },
  command: unknown,
) => client.commandCalls(command as never).map((call) => call.args[0].input);

beforeEach(() => {
  for (const client of [cloudFormation, eventBridge, sqs, sfn]) client.reset();
});

describe('npm run replay-dead-letters', () => {
  test('starts one execution per event, with the rule target input, then deletes its message', async () => {
    queueHolding([deadLetter('e1', 'incoming/a.csv'), deadLetter('e2', 'incoming/b b.csv')]);
    const { code, lines } = await run([]);
    expect(code).toBe(0);
    expect(inputsOf(sfn, StartExecutionCommand)).toEqual([
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'replay-e1',
        input: '{"bucket":"data-bucket","key":"incoming/a.csv"}',
      },
      {
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'replay-e2',
        input: '{"bucket":"data-bucket","key":"incoming/b b.csv"}',
      },
    ]);
    expect(inputsOf(sqs, DeleteMessageCommand)).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'receipt-e1' },
      { QueueUrl: QUEUE_URL, ReceiptHandle: 'receipt-e2' },
    ]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    expect(lines.at(-1)).toBe('2 replayed, 0 kept in the queue');
  });

  test('--dry-run prints each execution it would start, starts none, deletes nothing and leaves the messages visible', async () => {
    // GIVEN two events and one message that is not an event
    const junk = { MessageId: 'msg-junk', ReceiptHandle: 'receipt-junk', Body: 'not json' };
    queueHolding([deadLetter('e1', 'incoming/a.csv'), junk, deadLetter('e2', 'incoming/b.csv')]);
    // WHEN
    const { code, lines } = await run(['--dry-run']);
    // THEN nothing is started or deleted
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    // AND every received message is visible again at once, for the real run
    expect(inputsOf(sqs, ChangeMessageVisibilityCommand)).toEqual(
      ['receipt-e1', 'receipt-junk', 'receipt-e2'].map((ReceiptHandle) => ({
        QueueUrl: QUEUE_URL,
        ReceiptHandle,
        VisibilityTimeout: 0,
      })),
    );
    // AND the output names each execution and its input, and the message that would stay
    expect(lines).toEqual([
      'would replay msg-e1 -> replay-e1 {"bucket":"data-bucket","key":"incoming/a.csv"}',
      'kept     msg-junk: the message body is not an EventBridge event (not JSON); left in the queue',
      'would replay msg-e2 -> replay-e2 {"bucket":"data-bucket","key":"incoming/b.csv"}',
      '2 would be replayed, 1 would stay in the queue (dry run: nothing changed)',
    ]);
    expect(code).toBe(1);
  });

  test('a message it cannot replay stays in the queue and the command exits 1', async () => {
    queueHolding([{ MessageId: 'msg-junk', ReceiptHandle: 'receipt-junk', Body: 'not json' }]);
    const { code, lines } = await run([]);
    expect(code).toBe(1);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(lines.at(-1)).toBe('0 replayed, 1 kept in the queue');
  });

  test('--help documents --dry-run and changes nothing', async () => {
    const { code, lines } = await run(['--help']);
    expect(code).toBe(0);
    expect(lines.join('\n')).toMatch(/--dry-run +print each execution's name and input/);
    expect(cloudFormation.calls()).toHaveLength(0);
  });
});
