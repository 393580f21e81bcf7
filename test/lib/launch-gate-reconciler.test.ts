import { RELEASE_RETRY } from '../../lib/launch-gate';
import { RECONCILER_PERIOD, REPAIR_NAMESPACE, WAITERS_PER_RUN } from '../../lib/launch-gate-reconciler';
import { type AslDefinition, definitionOf } from './support/asl';
import { constructIds, type Synthesized, synthesized, synthPipeline } from './support/synth';
import { type Resource } from './support/template';

let byDefault: Synthesized;
let definition: AslDefinition;
beforeAll(() => {
  byDefault = synthesized('default');
  definition = definitionOf(byDefault, { stateMachine: byDefault.ids.launchGateReconciler });
});

const resource = (synth: Synthesized, id: string) => synth.template.toJSON().Resources[id] as Resource;
type MapState = { ItemProcessor: AslDefinition; ItemsPath: string; MaxConcurrency: number };

describe('LaunchGateReconciler: the schedule', () => {
  test('starts the Express reconciler every minute, without retrying a start the next run replaces', () => {
    expect(RECONCILER_PERIOD.toMinutes()).toBe(1);
    expect(resource(byDefault, byDefault.ids.launchGateSchedule).Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { Ref: byDefault.ids.launchGateReconciler },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      },
    });
    expect(resource(byDefault, byDefault.ids.launchGateReconciler).Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      LoggingConfiguration: { Level: 'ERROR' },
    });
  });
});

describe('LaunchGateReconciler: the state machine', () => {
  test("first writes the deployed slot count as the gate's limit, reading the holders back", () => {
    expect(definition.StartAt).toBe('WriteLaunchLimit');
    expect(definition.States.WriteLaunchLimit).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
      Parameters: {
        Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
        UpdateExpression: 'SET #limit = :limit',
        ExpressionAttributeValues: { ':limit': { N: '24' } },
        ReturnValues: 'ALL_NEW',
      },
      ResultPath: '$.slots',
    });
    // failing every attempt, the run still wakes the waiters (the holders wait for the next run)
    expect(definition.States.WriteLaunchLimit.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FindWaiters' },
    ]);
    // a deploy that changes fargateVcpuQuota changes the limit every execution reads
    const small = synthPipeline({ fargateVcpuQuota: '1' });
    const smallDefinition = definitionOf(
      {
        template: small.template,
        ids: constructIds(small.stack),
      } as Synthesized,
      { stateMachine: constructIds(small.stack).launchGateReconciler },
    );
    expect(smallDefinition.States.WriteLaunchLimit.Parameters).toMatchObject({
      ExpressionAttributeValues: { ':limit': { N: '4' } },
    });
  });

  test('releases each holder whose execution is not RUNNING or does not exist, and reports it', () => {
    const checkHolders = definition.States.CheckHolders as unknown as MapState;
    expect(checkHolders.ItemsPath).toBe('$.slots.Attributes.holders.SS');
    const { States } = checkHolders.ItemProcessor;
    expect(States.DescribeHolder).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution',
      Parameters: { 'ExecutionArn.$': '$.holder' },
    });
    expect(States.DescribeHolder.Catch?.[0]).toEqual({
      ErrorEquals: ['Sfn.ExecutionDoesNotExistException'],
      ResultPath: '$.error',
      Next: 'ReleaseStaleHolder',
    });
    expect(States.IsHolderRunning).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.execution.status', StringEquals: 'RUNNING', Next: 'HolderChecked' }],
      Default: 'ReleaseStaleHolder',
    });
    // only a release that removed the member counts as a repair
    expect(States.ReleaseStaleHolder.Parameters).toMatchObject({
      UpdateExpression: 'DELETE holders :holders',
      ConditionExpression: 'contains(holders, :holder)',
    });
    expect(States.ReleaseStaleHolder.Next).toBe('ReportStaleHolder');
    expect(States.ReportStaleHolder.Parameters).toMatchObject({
      Namespace: REPAIR_NAMESPACE,
      MetricData: [
        { MetricName: 'HoldersNotRunning', Value: 1, Unit: 'Count' },
        { MetricName: 'Repairs', Value: 1, Unit: 'Count' },
      ],
    });
  });

  test('wakes the oldest waiters one at a time into free slots (or the one they hold), dropping those gone', () => {
    expect(definition.States.FindWaiters.Parameters).toMatchObject({
      IndexName: 'ByArrival',
      ConsistentRead: true,
      Limit: WAITERS_PER_RUN,
    });
    const wakeWaiters = definition.States.WakeWaiters as unknown as MapState;
    expect(wakeWaiters.ItemsPath).toBe('$.line.Items');
    expect(wakeWaiters.MaxConcurrency).toBe(1);
    const { States } = wakeWaiters.ItemProcessor;
    // the waiter as it is now: still in line with the token the run read, and its execution RUNNING
    expect(wakeWaiters.ItemProcessor.StartAt).toBe('ReadWaiter');
    expect(States.ReadWaiter).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:getItem',
      Parameters: {
        Key: { pk: { S: 'waiters' }, sk: { 'S.$': '$.waiter.sk.S' } },
        ProjectionExpression: 'taskToken',
        ConsistentRead: true,
      },
      ResultPath: '$.inLine',
      Next: 'IsWaiterStillInLine',
    });
    // woken meanwhile (its item gone, or a new wait's token in it): done, nothing to retry or grant
    expect(States.IsWaiterStillInLine).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.inLine.Item.taskToken.S', IsPresent: true },
            { Variable: '$.inLine.Item.taskToken.S', StringEqualsPath: '$.waiter.taskToken.S' },
          ],
          Next: 'DescribeWaiter',
        },
      ],
      Default: 'WaiterChecked',
    });
    // an execution that ended with its item left behind gets no grant (nobody would release it): its item goes
    expect(States.DescribeWaiter).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution',
      Parameters: { 'ExecutionArn.$': '$.waiter.sk.S' },
    });
    expect(States.DescribeWaiter.Catch?.[0]).toEqual({
      ErrorEquals: ['Sfn.ExecutionDoesNotExistException'],
      ResultPath: '$.error',
      Next: 'RemoveGoneWaiter',
    });
    expect(States.IsWaiterRunning).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.execution.status', StringEquals: 'RUNNING', Next: 'GrantWaiter' }],
      Default: 'RemoveGoneWaiter',
    });
    expect(States.GrantWaiter.Parameters).toMatchObject({
      ConditionExpression:
        'attribute_not_exists(holders) OR contains(holders, :holder) OR size(holders) < #limit',
    });
    expect(States.WakeWaiter.Next).toBe('RemoveWokenWaiter');
    expect(States.RemoveWokenWaiter.Next).toBe('ReportWokenWaiter');
    expect(States.WakeWaiter.Catch?.[0].Next).toBe('RemoveGoneWaiter');
    expect(States.RemoveGoneWaiter.Next).toBe('ReportGoneWaiter');
  });

  test('every call retries every error (the condition failures and stale tokens aside) within 2 s a retry: a slot idles while a run retries', () => {
    const tasks = Object.entries(allStates(definition)).filter(([, state]) => state.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual(
      [
        'WriteLaunchLimit',
        'DescribeHolder',
        'ReleaseStaleHolder',
        'ReportStaleHolder',
        'FindWaiters',
        'ReadWaiter',
        'DescribeWaiter',
        'GrantWaiter',
        'WakeWaiter',
        'RemoveWokenWaiter',
        'ReportWokenWaiter',
        'RemoveGoneWaiter',
        'ReportGoneWaiter',
      ].sort(),
    );
    const retryAll = {
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: 1,
      BackoffRate: 2,
      MaxDelaySeconds: 2,
      MaxAttempts: 10,
      JitterStrategy: 'FULL',
    };
    for (const [name, state] of tasks) expect([name, state.Retry?.at(-1)]).toEqual([name, retryAll]);
    expect(RELEASE_RETRY.maxAttempts).toBe(10);
  });
});

/** Every state of `definition`, those of its Maps' item processors included. */
function allStates(definition: AslDefinition): AslDefinition['States'] {
  const states = { ...definition.States };
  for (const state of Object.values(definition.States)) {
    const processor = (state as unknown as Partial<MapState>).ItemProcessor;
    if (processor) Object.assign(states, allStates(processor));
  }
  return states;
}
