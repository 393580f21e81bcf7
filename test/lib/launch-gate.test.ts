import 'core-js/actual/promise/with-resolvers';

import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { StateMachine } from 'aws-local-stepfunctions';

import {
  COUNTER_THROTTLING_ERRORS,
  gateStates,
  LAUNCH_SLOTS_KEY,
  LaunchGate,
  RECEIVE_WAIT_SECONDS,
} from '../../lib/launch-gate';
import { type AslDefinition, definitionOf, successors } from './support/asl';
import { definitionIn, freshStack, only } from './support/constructs';
import { synthesized, synthPipeline } from './support/synth';

/** The gate's states in a state machine of their own: a Pass for the slot's work, a Fail, a Succeed. */
function gateAlone(
  slots: number,
  capacityWait = Duration.hours(2),
): { stack: Stack; definition: AslDefinition } {
  const stack = freshStack();
  const gate = new LaunchGate(stack, 'LaunchGate', { slots });
  const states = gateStates(stack, gate, {
    onSlot: new sfn.Pass(stack, 'RunInSlot'),
    failedBeforeSlot: new sfn.Fail(stack, 'NoSlot'),
    done: new sfn.Succeed(stack, 'Done'),
    capacityWait,
  });
  (stack.node.findChild('RunInSlot') as sfn.Pass).next(states.release);
  const stateMachine = new sfn.StateMachine(stack, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(states.claim),
  });
  return { stack, definition: definitionIn(stack, stateMachine) };
}

describe('LaunchGate built alone', () => {
  test('one on-demand table keyed by id, with point-in-time recovery, deleted with the stack', () => {
    const { stack } = gateAlone(4);
    const table = only(stack, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    // a count of running executions: nothing to keep
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
  });

  test('the line keeps a token longer than the longest wait, hides a message while it is handed on, TLS only', () => {
    const { stack } = gateAlone(4);
    const queue = only(stack, 'AWS::SQS::Queue');
    expect(queue.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
      VisibilityTimeout: 900,
    });
    expect(queue.DeletionPolicy).toBe('Delete');
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  test.each([0, -1, 2.5])('refuses %p slots, naming the fix', (slots) => {
    expect(() => new LaunchGate(freshStack(), 'LaunchGate', { slots })).toThrow(
      /LaunchGate slots .* is not a whole number of at least 1: raise fargateVcpuQuota/,
    );
  });
});

describe('the launch gate states built alone', () => {
  const { definition } = gateAlone(3);
  const { States } = definition;

  test('the claim counts the execution in with one atomic ADD on the one item, returning the new count', () => {
    expect(definition.StartAt).toBe('ClaimLaunchSlot');
    expect(States.ClaimLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Parameters: {
        Key: { id: { S: LAUNCH_SLOTS_KEY } },
        UpdateExpression: 'ADD demand :change',
        ExpressionAttributeValues: { ':change': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
      },
      ResultSelector: { 'demand.$': 'States.StringToJson($.Attributes.demand.N)' },
      ResultPath: '$.launchSlot',
      TimeoutSeconds: 30,
    });
    // only throttling is retried: a retried ADD that had been applied would count twice
    expect(States.ClaimLaunchSlot.Retry?.map((r) => r.ErrorEquals)).toEqual([COUNTER_THROTTLING_ERRORS]);
    expect(States.ClaimLaunchSlot.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NoSlot' },
    ]);
  });

  test('the first `slots` executions run at once; the others wait in line with their task token', () => {
    expect(States.HasLaunchSlot).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.launchSlot.demand', NumericLessThanEquals: 3, Next: 'RunInSlot' }],
      Default: 'WaitForLaunchSlot',
    });
    expect(States.WaitForLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { 'MessageBody.$': '$$.Task.Token' },
      // the wait window: capacityWait
      TimeoutSeconds: 2 * 3600,
      ResultPath: null,
      Next: 'RunInSlot',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NoSlot' }],
    });
    expect(States.WaitForLaunchSlot.Retry).toBeUndefined();
  });

  test('the release counts out and, while anyone is counted in line, long-polls the line', () => {
    expect(States.ReleaseLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Parameters: {
        UpdateExpression: 'ADD demand :change',
        ExpressionAttributeValues: { ':change': { N: '-1' } },
      },
      Next: 'IsAnyoneWaiting',
    });
    expect(States.IsAnyoneWaiting).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.launchSlot.demand', NumericGreaterThanEquals: 3, Next: 'FindWaitingExecution' },
      ],
      Default: 'Done',
    });
    expect(States.FindWaitingExecution).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sqs:receiveMessage',
      Parameters: { MaxNumberOfMessages: 1, WaitTimeSeconds: RECEIVE_WAIT_SECONDS },
      ResultPath: '$.launchSlot.line',
      Next: 'WasExecutionWaiting',
    });
    // an empty line after the long poll: the counted execution never queued; it is counted out too
    expect(States.WasExecutionWaiting).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.launchSlot.line.Messages[0]', IsPresent: true, Next: 'HandOnLaunchSlot' }],
      Default: 'ReleaseLaunchSlot',
    });
  });

  test.each([
    ['no Messages key (what SQS answers for an empty queue)', {}, 'ReleaseLaunchSlot'],
    ['an empty Messages list', { Messages: [] }, 'ReleaseLaunchSlot'],
    ['a message', { Messages: [{ Body: 'token', ReceiptHandle: 'h' }] }, 'HandOnLaunchSlot'],
  ])(
    'run by a Step Functions interpreter, the deployed Choice reads %s as it should',
    async (_, line, next) => {
      // GIVEN the deployed Choice, its two targets replaced by Pass states that name themselves
      const machine = new StateMachine({
        StartAt: 'WasExecutionWaiting',
        States: {
          WasExecutionWaiting: JSON.parse(JSON.stringify(States.WasExecutionWaiting)),
          HandOnLaunchSlot: { Type: 'Pass', Result: 'HandOnLaunchSlot', End: true },
          ReleaseLaunchSlot: { Type: 'Pass', Result: 'ReleaseLaunchSlot', End: true },
        },
      } as never);
      // WHEN the receive's result is
      const output = await machine.run({ launchSlot: { demand: 5, line } } as never).result;
      // THEN
      expect(output).toBe(next);
    },
  );

  test('the slot is handed on with SendTaskSuccess; a stale token is deleted and counted out, never retried', () => {
    expect(States.HandOnLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sfn:sendTaskSuccess',
      Parameters: { 'TaskToken.$': '$.launchSlot.line.Messages[0].Body', Output: '{}' },
      ResultPath: null,
      Next: 'DeleteHandedOnMessage',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlotError', Next: 'DeleteStaleMessage' }],
    });
    const [stale, other] = States.HandOnLaunchSlot.Retry ?? [];
    // the names Step Functions gives SendTaskSuccess's refusals in an AWS SDK integration
    expect(stale).toEqual({
      ErrorEquals: [
        'Sfn.TaskTimedOutException',
        'Sfn.InvalidTokenException',
        'Sfn.TaskDoesNotExistException',
      ],
      MaxAttempts: 0,
    });
    // anything else, for about two minutes: giving up strands or double-counts
    expect(other).toEqual({
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: 2,
      BackoffRate: 2,
      MaxAttempts: 6,
    });
    for (const name of ['FindWaitingExecution', 'DeleteHandedOnMessage', 'DeleteStaleMessage']) {
      expect(States[name].Retry).toEqual([other]);
    }
    expect(States.DeleteStaleMessage).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sqs:deleteMessage',
      Parameters: { 'ReceiptHandle.$': '$.launchSlot.line.Messages[0].ReceiptHandle' },
      Next: 'ReleaseLaunchSlot',
    });
    expect(States.DeleteHandedOnMessage).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sqs:deleteMessage',
      Next: 'Done',
    });
  });

  test('the release is a loop of its own: it reaches only its states and `done`, never the claim or the line', () => {
    const reachable = new Set<string>();
    const visit = (name: string) => {
      if (reachable.has(name)) return;
      reachable.add(name);
      successors(States[name]).forEach(visit);
    };
    visit('ReleaseLaunchSlot');
    expect([...reachable].sort()).toEqual(
      [
        'ReleaseLaunchSlot',
        'IsAnyoneWaiting',
        'FindWaitingExecution',
        'WasExecutionWaiting',
        'HandOnLaunchSlot',
        'DeleteHandedOnMessage',
        'DeleteStaleMessage',
        'Done',
      ].sort(),
    );
  });
});

describe('the launch gate in the pipeline', () => {
  test('slots are fargateVcpuQuota over one task vCPU: 24 by default, 4 with 1 vCPU, 6 with 1-vCPU tasks', () => {
    const slotsOf = (definition: AslDefinition) =>
      (definition.States.HasLaunchSlot.Choices?.[0] as { NumericLessThanEquals: number })
        .NumericLessThanEquals;
    expect(slotsOf(definitionOf(synthesized('default')))).toBe(24);
    const small = synthPipeline({ fargateVcpuQuota: '1' });
    expect(small.stack.launchGate.slots).toBe(4);
    const big = synthPipeline({ cpu: '1024', memoryMiB: '2048' });
    expect(big.stack.launchGate.slots).toBe(6);
  });

  test('the event workflow and the backfill share one gate (one quota), and both release on every outcome', () => {
    const synth = synthesized('default');
    expect(Object.keys(synth.template.findResources('AWS::DynamoDB::Table'))).toEqual([
      synth.ids.launchGateTable,
    ]);
    const text = JSON.stringify(synth.template.toJSON().Resources[synth.ids.backfillStateMachine]);
    expect(text).toContain(synth.ids.launchGateTable);
    expect(text).toContain(synth.ids.launchGateLine);
  });
});
