import { ENDED_STATUSES } from '../../lib/launch-gate-cleanup';
import { type AslDefinition, definitionOf } from './support/asl';
import { type Synthesized, synthesized } from './support/synth';
import { evaluate, type Resource, stateMachineArn } from './support/template';

let byDefault: Synthesized;
let definition: AslDefinition;
beforeAll(() => {
  byDefault = synthesized('default');
  definition = definitionOf(byDefault, { stateMachine: byDefault.ids.launchGateCleanup });
});

const resource = (id: string) => byDefault.template.toJSON().Resources[id] as Resource;

describe('LaunchGateCleanup: the rule', () => {
  test('matches FAILED, TIMED_OUT and ABORTED status changes of both gated state machines and of the backfill Map Run children', () => {
    const { EventPattern, State } = resource(byDefault.ids.launchGateCleanupRule).Properties;
    expect(State).toBe('ENABLED');
    const workflow = stateMachineArn(byDefault.ids.workflowStateMachine);
    const backfill = stateMachineArn(byDefault.ids.backfillStateMachine);
    expect(evaluate(byDefault.template, EventPattern)).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [workflow, { prefix: `${workflow}/` }, backfill, { prefix: `${backfill}/` }],
      },
    });
    // SUCCEEDED executions went through their own release
    expect(ENDED_STATUSES).not.toContain('SUCCEEDED');
  });

  test('targets the cleanup state machine with the whole event', () => {
    const [target, ...more] = resource(byDefault.ids.launchGateCleanupRule).Properties.Targets as Array<
      Record<string, unknown>
    >;
    expect(more).toEqual([]);
    expect(target.Arn).toEqual({ Ref: byDefault.ids.launchGateCleanup });
    expect(target.Input).toBeUndefined();
    expect(target.InputTransformer).toBeUndefined();
  });
});

describe('LaunchGateCleanup: the state machine', () => {
  test('is Express, logging its errors with their data', () => {
    expect(resource(byDefault.ids.launchGateCleanup).Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true },
    });
  });

  test("runs the workflow's own release states on the event's execution: leaves the line, releases, hands the slot on", () => {
    expect(definition.StartAt).toBe('LeaveLaunchLine');
    const { States } = definition;
    expect(States.LeaveLaunchLine.Parameters).toMatchObject({
      Key: { pk: { S: 'waiters' }, sk: { 'S.$': '$.detail.executionArn' } },
    });
    expect(States.ReleaseLaunchSlot.Parameters).toMatchObject({
      UpdateExpression: 'DELETE holders :holders ADD releases :one',
      ExpressionAttributeValues: { ':holders': { 'SS.$': 'States.Array($.detail.executionArn)' } },
    });
    expect(Object.keys(States).sort()).toEqual(
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
        'Released',
      ].sort(),
    );
    // the release does not depend on the waiter item's delete: that failing past its retries still releases
    expect(States.LeaveLaunchLine.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.launchSlot.error', Next: 'ReleaseLaunchSlot' },
    ]);
    // SDK integrations only: no Lambda, no waiting
    for (const state of Object.values(States).filter((s) => s.Type === 'Task')) {
      expect(state.Resource).toMatch(/^arn:aws:states:::aws-sdk:(dynamodb|sfn):\w+$/);
    }
  });
});
