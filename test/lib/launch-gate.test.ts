import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import jsonata from 'jsonata';

import {
  ARRIVAL_INDEX,
  CLAIM_CONDITION,
  GATE_RETRY,
  gateStates,
  HAND_ON_CHOICES,
  LaunchGate,
  MAX_HAND_ON_ROUNDS,
  MAX_SLOTS,
  RELEASE_RETRY,
  SLOTS_TAKEN,
  STALE_TOKEN_ERRORS,
} from '../../lib/launch-gate';
import { jsonataText } from '../../local/stepfunctions/asl/jsonata';
import { type AslDefinition, definitionOf, successors } from './support/asl';
import { definitionIn, freshStack, only } from './support/constructs';
import { synthesized, synthPipeline } from './support/synth';

/** The gate's states in a state machine of their own: a Pass for the slot's work, a Succeed. */
function gateAlone(
  slots: number,
  capacityWait = Duration.hours(2),
): { stack: Stack; definition: AslDefinition } {
  const stack = freshStack();
  const gate = new LaunchGate(stack, 'LaunchGate', { slots });
  const states = gateStates(stack, gate, {
    onSlot: new sfn.Pass(stack, 'RunInSlot'),
    done: new sfn.Succeed(stack, 'Done'),
    capacityWait,
  });
  (stack.node.findChild('RunInSlot') as sfn.Pass).next(states.release);
  const stateMachine = new sfn.StateMachine(stack, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(states.claim),
  });
  return { stack, definition: definitionIn(stack, stateMachine) };
}

const SLOTS_ITEM = { pk: { S: 'slots' }, sk: { S: 'slots' } };
const RETRY_ALL = {
  ErrorEquals: ['States.ALL'],
  IntervalSeconds: 1,
  BackoffRate: 2,
  MaxAttempts: 6,
  JitterStrategy: 'FULL',
};
/** The release's and hand-on's calls: sooner and more often, a slot idles while they retry. */
const RETRY_RELEASE = { ...RETRY_ALL, MaxAttempts: 10, MaxDelaySeconds: 2 };

describe('LaunchGate built alone', () => {
  test('one on-demand table keyed by pk and sk, waiters ordered by a local (consistent) index, deleted with the stack', () => {
    const { stack } = gateAlone(4);
    const table = only(stack, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: ARRIVAL_INDEX,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'arrivedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
  });

  test('no SQS line: the waiters are items', () => {
    expect(
      gateAlone(4)
        .stack.node.findAll()
        .filter((c) => c.node.id === 'Line'),
    ).toEqual([]);
  });

  test.each([0, -1, 2.5, MAX_SLOTS + 1])('refuses %p slots, naming the fix', (slots) => {
    expect(() => new LaunchGate(freshStack(), 'LaunchGate', { slots })).toThrow(
      /LaunchGate slots .* is not a whole number from 1 to 500: set fargateVcpuQuota to between one and 500 tasks' vCPU/,
    );
  });
});

describe('the launch gate states built alone', () => {
  const { definition } = gateAlone(3);
  const { States } = definition;

  test('the claim adds this execution to the holders set, on condition it is there already or there is room under the limit', () => {
    expect(definition.StartAt).toBe('ClaimLaunchSlot');
    expect(States.ClaimLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
      Parameters: {
        Key: SLOTS_ITEM,
        UpdateExpression: 'ADD holders :holders SET #limit = if_not_exists(#limit, :deployedLimit)',
        ConditionExpression: CLAIM_CONDITION,
        ExpressionAttributeNames: { '#limit': 'limit' },
        ExpressionAttributeValues: {
          ':holders': { 'SS.$': 'States.Array($$.Execution.Id)' },
          ':holder': { 'S.$': '$$.Execution.Id' },
          ':deployedLimit': { N: '3' },
        },
      },
      ResultPath: null,
      TimeoutSeconds: 30,
      Next: 'RunInSlot',
    });
    expect(CLAIM_CONDITION).toBe(
      'attribute_not_exists(holders) OR contains(holders, :holder) OR size(holders) < #limit',
    );
    // the condition refusing is an answer; anything else is retried (a repeated ADD of a set member changes nothing)
    expect(States.ClaimLaunchSlot.Retry).toEqual([{ ErrorEquals: [SLOTS_TAKEN], MaxAttempts: 0 }, RETRY_ALL]);
    expect(States.ClaimLaunchSlot.Catch).toEqual([
      { ErrorEquals: [SLOTS_TAKEN], ResultPath: null, Next: 'WaitForLaunchSlot' },
      // a claim that failed past its retries may have been applied: it releases
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLaunchSlot' },
    ]);
  });

  test('a waiter writes its item (its ARN, arrival and task token) and waits for the token, retried, for capacityWait', () => {
    expect(States.WaitForLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken',
      Parameters: {
        Item: {
          pk: { S: 'waiters' },
          sk: { 'S.$': '$$.Execution.Id' },
          arrivedAt: { 'S.$': '$$.State.EnteredTime' },
          taskToken: { 'S.$': '$$.Task.Token' },
        },
      },
      TimeoutSeconds: 2 * 3600,
      ResultPath: null,
      Next: 'RunInSlot',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'LeaveLaunchLine' }],
    });
    // a failed put is retried (the item overwritten with the new token); the wait's own timeout is not
    expect(States.WaitForLaunchSlot.Retry).toEqual([
      { ErrorEquals: ['States.Timeout'], MaxAttempts: 0 },
      RETRY_ALL,
    ]);
  });

  test('the release deletes the set member and draws a ticket, then reads the oldest waiters consistently and keeps the one its ticket picks', () => {
    expect(States.LeaveLaunchLine).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:deleteItem',
      Parameters: { Key: { pk: { S: 'waiters' }, sk: { 'S.$': '$$.Execution.Id' } } },
      Next: 'ReleaseLaunchSlot',
    });
    expect(States.ReleaseLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
      Parameters: {
        Key: SLOTS_ITEM,
        UpdateExpression: 'DELETE holders :holders ADD releases :one',
        ExpressionAttributeValues: {
          ':holders': { 'SS.$': 'States.Array($$.Execution.Id)' },
          ':one': { N: '1' },
        },
        ReturnValues: 'UPDATED_NEW',
      },
      // releases counted on the slot item: consecutive releases hold consecutive tickets
      ResultSelector: { count: 0, 'ticket.$': 'States.StringToJson($.Attributes.releases.N)' },
      ResultPath: '$.launchSlot.rounds',
      Next: 'FindWaitingExecution',
    });
    expect(States.FindWaitingExecution).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:query',
      QueryLanguage: 'JSONata',
      Arguments: {
        IndexName: ARRIVAL_INDEX,
        KeyConditionExpression: 'pk = :waiters',
        ExpressionAttributeValues: { ':waiters': { S: 'waiters' } },
        ConsistentRead: true,
        Limit: HAND_ON_CHOICES,
      },
    });
    expect(HAND_ON_CHOICES).toBeGreaterThan(24);
    expect(States.IsAnyoneWaiting).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.launchSlot.line.waiter', IsPresent: true, Next: 'GrantLaunchSlot' }],
      Default: 'Done',
    });
  });

  test('the ticket picks the waiter at its position, modulo the waiters read: consecutive tickets pick different waiters; none read, no waiter', async () => {
    const output = jsonata(jsonataText(States.FindWaitingExecution.Output)!);
    const items = ['a', 'b', 'c'].map((name) => ({ sk: { S: name }, arrivedAt: { S: `t-${name}` } }));
    const pick = async (ticket: number, read: typeof items) =>
      (await output.evaluate(
        {},
        {
          states: {
            input: { other: 1, launchSlot: { rounds: { count: 0, ticket } } },
            result: { Items: read },
          },
        },
      )) as { other: number; launchSlot: { rounds: unknown; line: { waiter?: unknown } } };
    expect(await pick(7, items)).toEqual({
      other: 1,
      launchSlot: { rounds: { count: 0, ticket: 7 }, line: { waiter: items[1] } },
    });
    expect(
      await Promise.all([8, 9, 10].map(async (t) => (await pick(t, items)).launchSlot.line.waiter)),
    ).toEqual([items[2], items[0], items[1]]);
    expect((await pick(5, [items[0]])).launchSlot.line).toEqual({ waiter: items[0] });
    expect((await pick(5, [])).launchSlot.line).toEqual({});
  });

  test('leaving the line that fails every attempt still releases: a waiter item left behind holds no slot', () => {
    expect(States.LeaveLaunchLine.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlot.error', Next: 'ReleaseLaunchSlot' },
    ]);
    // the release itself, failing past its retries, leaves the rest to the cleanup and the reconciler
    expect(States.ReleaseLaunchSlot.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlot.error', Next: 'Done' },
    ]);
  });

  test("the hand-on grants on the claim's condition, wakes, and deletes the waiter item only if it still holds that token", () => {
    expect(States.GrantLaunchSlot).toMatchObject({
      Parameters: {
        ConditionExpression: CLAIM_CONDITION,
        ExpressionAttributeValues: {
          ':holders': { 'SS.$': 'States.Array($.launchSlot.line.waiter.sk.S)' },
        },
      },
      Next: 'HandOnLaunchSlot',
    });
    expect(States.HandOnLaunchSlot).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sfn:sendTaskSuccess',
      Parameters: { 'TaskToken.$': '$.launchSlot.line.waiter.taskToken.S', Output: '{}' },
      Next: 'RemoveWokenWaiter',
    });
    expect(States.RemoveWokenWaiter).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:deleteItem',
      Parameters: {
        ConditionExpression: 'taskToken = :token',
        ExpressionAttributeValues: { ':token': { 'S.$': '$.launchSlot.line.waiter.taskToken.S' } },
      },
      Next: 'Done',
    });
  });

  test('a stale token on the first wake-up (someone else woke that waiter, or it stopped waiting) looks for the next waiter, at most 5 rounds', () => {
    // the first call is never retried: a stale answer to it cannot be its own lost success
    expect(States.HandOnLaunchSlot.Retry).toEqual([{ ErrorEquals: STALE_TOKEN_ERRORS, MaxAttempts: 0 }]);
    expect(States.HandOnLaunchSlot.Catch).toEqual([
      { ErrorEquals: STALE_TOKEN_ERRORS, ResultPath: '$.launchSlot.error', Next: 'RemoveStaleWaiter' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlot.error', Next: 'HandOnLaunchSlotAgain' },
    ]);
    expect(States.RemoveStaleWaiter.Next).toBe('CountHandOnRound');
    expect(States.RemoveStaleWaiter.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlot.error', Next: 'CountHandOnRound' },
    ]);
    expect(States.CountHandOnRound).toMatchObject({
      Type: 'Pass',
      Parameters: {
        'count.$': 'States.MathAdd($.launchSlot.rounds.count, 1)',
        'ticket.$': '$.launchSlot.rounds.ticket',
      },
      ResultPath: '$.launchSlot.rounds',
      Next: 'IsHandOnRoundLeft',
    });
    expect(States.IsHandOnRoundLeft).toEqual({
      Type: 'Choice',
      Choices: [
        {
          Variable: '$.launchSlot.rounds.count',
          NumericLessThan: MAX_HAND_ON_ROUNDS,
          Next: 'FindWaitingExecution',
        },
      ],
      Default: 'Done',
    });
    expect(MAX_HAND_ON_ROUNDS).toBe(5);
    // the second call, after a failure without an answer, is retried; a stale token then may be its own success: it stops
    expect(States.HandOnLaunchSlotAgain.Retry).toEqual([
      { ErrorEquals: STALE_TOKEN_ERRORS, MaxAttempts: 0 },
      RETRY_RELEASE,
    ]);
    expect(States.HandOnLaunchSlotAgain.Catch?.[0]).toEqual({
      ErrorEquals: STALE_TOKEN_ERRORS,
      ResultPath: '$.launchSlot.error',
      Next: 'RemoveWokenWaiter',
    });
  });

  test("every gate call has a timeout and retries every error (the conditions, the wait's timeout and the first wake-up aside)", () => {
    const calls = Object.entries(States).filter(([, state]) => state.Type === 'Task');
    expect(calls.map(([name]) => name).sort()).toEqual(
      [
        'ClaimLaunchSlot',
        'WaitForLaunchSlot',
        'LeaveLaunchLine',
        'ReleaseLaunchSlot',
        'FindWaitingExecution',
        'GrantLaunchSlot',
        'HandOnLaunchSlot',
        'HandOnLaunchSlotAgain',
        'RemoveWokenWaiter',
        'RemoveStaleWaiter',
      ].sort(),
    );
    const joining = ['ClaimLaunchSlot', 'WaitForLaunchSlot'];
    for (const [name, state] of calls.filter(([n]) => n !== 'HandOnLaunchSlot')) {
      const retry = joining.includes(name) ? RETRY_ALL : RETRY_RELEASE;
      expect([name, state.Retry?.at(-1)]).toEqual([name, retry]);
    }
    for (const [, state] of calls) expect(state.TimeoutSeconds).toBeGreaterThan(0);
    expect(GATE_RETRY.maxAttempts).toBe(6);
    expect(RELEASE_RETRY.maxAttempts).toBe(10);
  });

  test('the release ends at `done` on every path, failures included: it never returns to the claim or the wait', () => {
    const reachable = new Set<string>();
    const visit = (name: string) => {
      if (reachable.has(name)) return;
      reachable.add(name);
      successors(States[name]).forEach(visit);
    };
    visit('LeaveLaunchLine');
    expect([...reachable].sort()).toEqual(
      [
        'LeaveLaunchLine',
        'ReleaseLaunchSlot',
        'FindWaitingExecution',
        'IsAnyoneWaiting',
        'GrantLaunchSlot',
        'HandOnLaunchSlot',
        'HandOnLaunchSlotAgain',
        'RemoveWokenWaiter',
        'RemoveStaleWaiter',
        'CountHandOnRound',
        'IsHandOnRoundLeft',
        'Done',
      ].sort(),
    );
  });
});

describe('the launch gate in the pipeline', () => {
  const deployedLimitOf = (definition: AslDefinition) =>
    (
      definition.States.ClaimLaunchSlot.Parameters as {
        ExpressionAttributeValues: { ':deployedLimit': { N: string } };
      }
    ).ExpressionAttributeValues[':deployedLimit'].N;

  test('slots are fargateVcpuQuota over one task vCPU: 24 by default, 4 with 1 vCPU, 6 with 1-vCPU tasks', () => {
    expect(deployedLimitOf(definitionOf(synthesized('default')))).toBe('24');
    expect(synthPipeline({ fargateVcpuQuota: '1' }).stack.launchGate.slots).toBe(4);
    expect(synthPipeline({ cpu: '1024', memoryMiB: '2048' }).stack.launchGate.slots).toBe(6);
  });

  test('the event workflow and the backfill share one gate table (one quota)', () => {
    const synth = synthesized('default');
    // (the other table is the object records')
    expect(Object.keys(synth.template.findResources('AWS::DynamoDB::Table')).sort()).toEqual(
      [synth.ids.launchGateTable, synth.ids.objectRecordsTable].sort(),
    );
    const text = JSON.stringify(synth.template.toJSON().Resources[synth.ids.backfillStateMachine]);
    expect(text).toContain(synth.ids.launchGateTable);
    expect(text).toContain('ClaimLaunchSlot');
  });
});
