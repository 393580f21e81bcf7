import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY } from 'aws-cdk-lib/cx-api';

import { CONDITION_FAILED } from '../../lib/launch-gate';
import {
  attemptsFor,
  EVENTS_PER_LAUNCH_ATTEMPT,
  HISTORY_EVENT_LIMIT,
  INVALID_PARAMETER_WAIT,
  SPOT_CAPACITY_WAIT,
  worstWaitSeconds,
} from '../../lib/launch-retry';
import { INPUT_WITHOUT_ETAG, KEY_TOO_LONG } from '../../lib/object-records';
import {
  MAX_RELAUNCHES,
  ProcessObjectStep,
  ProcessObjectStepProps,
  RELEASE_ALLOWANCE,
} from '../../lib/process-object-step';
import type { StateMachineDefinition } from '../../local/stepfunctions/definitions';
import { objectRecordKey } from '../../shared/object-record';
import { AslDefinition, AslState, backfillMapOf, definitionOf, statesOfType } from './support/asl';
import { freshStack, stepProps } from './support/constructs';
import { Statement, statementsOfRole } from './support/iam';
import { type RecordsRig, recordsRig, runExecution, START_MS, stoppedTask } from './support/records';
import { constructIds, Synthesized, synthesized, synthPipeline } from './support/synth';
import { logicalIdOf, onlyResource, placeholder } from './support/template';

/** Every name Step Functions gives a RunTask refused "for now" (throttling, vCPU quota, no capacity). */
const CAPACITY_ERRORS = ['AmazonECS.Unknown', 'ECS.AmazonECSException'];
const LAUNCH_ERRORS = [...CAPACITY_ERRORS, 'ECS.InvalidParameterException'];
const FAILED_TO_START = '*"StopCode":"TaskFailedToStart"*';

let onDemand: Synthesized;
let spot: Synthesized;
let fallback: Synthesized;
let shortTimeout: Synthesized;
let shortWait: Synthesized;
let definitions: Record<'on-demand' | 'spot' | 'spot-with-fallback', AslDefinition>;

beforeAll(() => {
  // GIVEN each capacity mode (on-demand is the default) and a 5-minute task timeout
  onDemand = synthesized('default');
  spot = synthesized('spot');
  fallback = synthesized('spotWithFallback');
  shortTimeout = synthesized('shortTimeout');
  shortWait = synthesized('shortWait');
  definitions = {
    'on-demand': definitionOf(onDemand),
    spot: definitionOf(spot),
    'spot-with-fallback': definitionOf(fallback),
  };
});

const MODES = ['on-demand', 'spot', 'spot-with-fallback'] as const;

/** The states that run the worker (the launch gate's Task states are tested in launch-gate.test.ts). */
function tasksOf(definition: AslDefinition): [string, AslState][] {
  return Object.entries(statesOfType(definition, 'Task')).filter(([, state]) =>
    /:ecs:runTask\.sync$/.test(String(state.Resource)),
  );
}

function taskDefinitionOf(synth: Synthesized) {
  return onlyResource(synth.template, 'AWS::ECS::TaskDefinition').resource.Properties as {
    Family: string;
    ContainerDefinitions: { Name: string }[];
  };
}

describe('ProcessObjectStep (on-demand, the default)', () => {
  let task: AslState;
  beforeAll(() => {
    const tasks = tasksOf(definitions['on-demand']);
    expect(tasks.map(([name]) => name)).toEqual(['RunWorker']);
    task = tasks[0][1];
  });

  test('has one Task state running the task with ecs:runTask.sync, entered once the object is taken and a launch slot held', () => {
    const { StartAt, States } = definitions['on-demand'];
    expect(StartAt).toBe('RecordObject');
    expect(States.RecordObject.Next).toBe('ClaimLaunchSlot');
    expect(States.ClaimLaunchSlot.Next).toBe('RecordRunning');
    expect(States.WaitForLaunchSlot.Next).toBe('RecordRunning');
    expect(States.RecordRunning.Next).toBe('RunWorker');
    expect(task.Resource).toMatch(/:states:::ecs:runTask\.sync$/);
    expect(task.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
  });

  test('an input RecordObject cannot key (no ETag) is not retried and goes straight to ObjectFailed, named InputWithoutETag', () => {
    const { RecordObject } = definitions['on-demand'].States;
    expect(RecordObject.Retry?.[0]).toEqual({
      ErrorEquals: [CONDITION_FAILED, KEY_TOO_LONG, 'States.QueryEvaluationError'],
      MaxAttempts: 0,
    });
    expect(RecordObject.Catch).toEqual([
      { ErrorEquals: [CONDITION_FAILED], Next: 'FindObjectHolder', Output: '{% $states.input %}' },
      { ErrorEquals: [KEY_TOO_LONG], Next: 'ClaimLaunchSlot', Output: expect.any(String) },
      {
        ErrorEquals: ['States.ALL'],
        Next: 'ObjectFailed',
        Output: expect.stringContaining(
          `$type($states.input.etag) = 'string' ? $states.errorOutput : {'Error': "${INPUT_WITHOUT_ETAG}"`,
        ),
      },
    ]);
  });

  test('runs the worker task definition on the cluster with LaunchType FARGATE', () => {
    expect(task.Parameters).toMatchObject({
      Cluster: `<${onDemand.ids.cluster}.Arn>`,
      TaskDefinition: taskDefinitionOf(onDemand).Family,
      LaunchType: 'FARGATE',
    });
    expect(task.Parameters?.CapacityProviderStrategy).toBeUndefined();
  });

  test('overrides the container the task definition defines, by its name', () => {
    const overrides = task.Parameters?.Overrides?.ContainerOverrides ?? [];
    expect(overrides.map((o) => o.Name)).toEqual(
      taskDefinitionOf(onDemand).ContainerDefinitions.map((c) => c.Name),
    );
    expect(overrides[0].Name).toBe('worker');
  });

  test('passes the object to the worker as BUCKET, KEY, ETAG, VERSION_ID (PascalCase Name / Value.$)', () => {
    expect(task.Parameters?.Overrides).toEqual({
      ContainerOverrides: [
        {
          Name: 'worker',
          Environment: [
            { Name: 'BUCKET', 'Value.$': '$.bucket' },
            { Name: 'KEY', 'Value.$': '$.key' },
            { Name: 'ETAG', 'Value.$': '$.etag' },
            { Name: 'VERSION_ID', 'Value.$': '$.versionId' },
          ],
        },
      ],
    });
  });

  test('times out after 60 minutes by default and after 5 with -c taskTimeoutMinutes=5', () => {
    expect(task.TimeoutSeconds).toBe(3600);
    const [[, short]] = tasksOf(definitionOf(shortTimeout));
    expect(short.TimeoutSeconds).toBe(300);
  });

  test('keeps only TaskArn, StopCode, StoppedReason, ExitCodes and the ECS times of the task description', () => {
    expect(task.ResultSelector).toEqual({
      'TaskArn.$': '$.TaskArn',
      'StopCode.$': '$.StopCode',
      'StoppedReason.$': '$.StoppedReason',
      'ExitCodes.$': '$.Containers[*].ExitCode',
      'CreatedAt.$': '$.CreatedAt',
      'StartedAt.$': '$.StartedAt',
      'StoppedAt.$': '$.StoppedAt',
    });
    expect(task.ResultPath).toBe('$.task');
  });

  test('sends a worker failure to the relaunch check and every other error into a Fail state naming the object', () => {
    expect(task.Catch).toEqual([
      { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'WasTaskStarted' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLaunchSlot' },
    ]);
    const failed = definitions['on-demand'].States.ObjectFailed;
    expect(failed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error' });
    expect(failed.CausePath).toMatch(/^States\.Format\('.*', \$\.bucket, \$\.key, \$\.error\.Cause\)$/);
  });

  test('a task ECS stopped before it ran (TaskFailedToStart) is launched again, at most twice; any other failure fails', () => {
    const { States } = definitions['on-demand'];
    expect(States.WasTaskStarted).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [
        {
          And: [
            { Variable: '$.error.Cause', StringMatches: FAILED_TO_START },
            { Not: { Variable: '$.relaunches', IsPresent: true } },
          ],
          Next: 'CountFirstRelaunch',
        },
        {
          And: [
            { Variable: '$.error.Cause', StringMatches: FAILED_TO_START },
            { Variable: '$.relaunches.count', NumericLessThan: 2 },
          ],
          Next: 'CountRelaunch',
        },
      ],
      Default: 'ReleaseLaunchSlot',
    });
    expect(States.CountFirstRelaunch).toEqual({
      Type: 'Pass',
      Result: { count: 1 },
      ResultPath: '$.relaunches',
      Next: 'RunWorker',
    });
    expect(States.CountRelaunch).toEqual({
      Type: 'Pass',
      Parameters: { 'count.$': 'States.MathAdd($.relaunches.count, 1)' },
      ResultPath: '$.relaunches',
      Next: 'RunWorker',
    });
  });
});

type Retrier = NonNullable<AslState['Retry']>[number];

/** The mean total delay of a retrier's first `attempts` retries: full jitter draws each between 0 and its ceiling. */
function meanWaitSeconds(retrier: Retrier, attempts = retrier.MaxAttempts ?? 3): number {
  let total = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const ceiling = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** attempt;
    total += Math.min(ceiling, retrier.MaxDelaySeconds ?? Infinity) / 2;
  }
  return total;
}

describe.each(MODES)('ProcessObjectStep retries (%s)', (mode) => {
  test('every Task state retries the capacity errors, then ECS.InvalidParameterException, with backoff, a cap and full jitter', () => {
    const tasks = tasksOf(definitions[mode]);
    expect(tasks.length).toBeGreaterThan(0);
    for (const [, task] of tasks) {
      expect((task.Retry ?? []).map((r) => [...r.ErrorEquals].sort())).toEqual([
        CAPACITY_ERRORS,
        ['ECS.InvalidParameterException'],
      ]);
      for (const retry of task.Retry ?? []) {
        expect(retry).toMatchObject({
          IntervalSeconds: 5,
          BackoffRate: 2,
          MaxDelaySeconds: 300,
          JitterStrategy: 'FULL',
        });
        // Step Functions' bounds: whole numbers up to 99999999
        for (const field of [retry.IntervalSeconds, retry.MaxAttempts, retry.MaxDelaySeconds]) {
          expect(Number.isInteger(field)).toBe(true);
          expect(field).toBeLessThanOrEqual(99999999);
        }
      }
    }
  });

  test('no retrier repeats a worker failure (States.TaskFailed) or retries everything (States.ALL)', () => {
    const retried = tasksOf(definitions[mode]).flatMap(([, task]) =>
      (task.Retry ?? []).flatMap((r) => r.ErrorEquals),
    );
    expect(retried).not.toContain('States.TaskFailed');
    expect(retried).not.toContain('States.ALL');
  });

  test('the execution history of the longest wait stays far below 25,000 events', () => {
    // Each launch attempt writes three events (TaskScheduled, TaskStarted, TaskFailed); 5 is
    // generous. A run is entered at most 3 times (two relaunches); the wait in line and the
    // release add a few dozen.
    const attempts = tasksOf(definitions[mode]).reduce(
      (sum, [, task]) => sum + 3 * (1 + (task.Retry ?? []).reduce((n, r) => n + (r.MaxAttempts ?? 3), 0)),
      0,
    );
    expect(attempts * 5 + 100).toBeLessThan(25000 / 2);
  });
});

describe('ProcessObjectStep capacity wait', () => {
  const capacityRetry = (synth: Synthesized, state = 'RunWorker'): Retrier => {
    const retry = definitionOf(synth).States[state].Retry?.[0];
    if (!retry) throw new Error(`${state} has no retrier`);
    return retry;
  };

  test('lasts capacityWaitMinutes on average: 12 hours by default, 1 hour with -c capacityWaitMinutes=60', () => {
    for (const [synth, seconds] of [
      [onDemand, 12 * 3600],
      [shortWait, 3600],
    ] as const) {
      const retry = capacityRetry(synth);
      // with the fewest attempts that reach it
      expect(meanWaitSeconds(retry)).toBeGreaterThanOrEqual(seconds);
      expect(meanWaitSeconds(retry, (retry.MaxAttempts ?? 0) - 1)).toBeLessThan(seconds);
    }
    expect(capacityRetry(onDemand).MaxAttempts).toBe(attemptsFor(12 * 3600));
  });

  test("only slot holders retry RunTask, and their delay cap keeps them far under RunTask's 20 calls a second", () => {
    // Under full jitter a delay averages half the cap: N retrying executions call ~2N/cap times a
    // second, and only the executions holding one of the gate's slots reach RunWorker.
    const { ClaimLaunchSlot } = definitionOf(onDemand).States;
    const slots = Number(
      (ClaimLaunchSlot.Parameters as { ExpressionAttributeValues: { ':deployedLimit': { N: string } } })
        .ExpressionAttributeValues[':deployedLimit'].N,
    );
    expect(slots).toBe(24);
    const { MaxDelaySeconds } = capacityRetry(onDemand);
    expect((2 * slots) / Number(MaxDelaySeconds)).toBeLessThanOrEqual(1);
  });

  test('spot-with-fallback waits about 5 minutes for Spot, then the whole wait on demand', () => {
    const spotWait = meanWaitSeconds(capacityRetry(fallback, 'RunWorkerOnSpot'));
    expect(spotWait).toBeGreaterThanOrEqual(300);
    expect(spotWait).toBeLessThan(600);
    expect(capacityRetry(fallback, 'RunWorkerOnDemand')).toEqual(capacityRetry(onDemand));
  });
});

describe('ProcessObjectStep (spot)', () => {
  test('runs on FARGATE_SPOT only', () => {
    const tasks = tasksOf(definitions.spot);
    expect(tasks).toHaveLength(1);
    const [[, task]] = tasks;
    expect(task.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    expect(task.Parameters?.LaunchType).toBeUndefined();
    expect(task.Catch).toEqual([
      { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'WasTaskStarted' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLaunchSlot' },
    ]);
  });
});

describe('ProcessObjectStep (spot-with-fallback)', () => {
  let states: Record<string, AslState>;
  beforeAll(() => {
    states = definitions['spot-with-fallback'].States;
  });

  test('runs on Spot first once it holds a slot, and has exactly two RunTask states', () => {
    expect(states.ClaimLaunchSlot.Next).toBe('RecordRunning');
    expect(states.WaitForLaunchSlot.Next).toBe('RecordRunning');
    expect(states.RecordRunning.Next).toBe('RunWorkerOnSpot');
    expect(
      tasksOf(definitions['spot-with-fallback'])
        .map(([name]) => name)
        .sort(),
    ).toEqual(['RunWorkerOnDemand', 'RunWorkerOnSpot']);
  });

  test('RunWorkerOnSpot uses FARGATE_SPOT and RunWorkerOnDemand uses FARGATE', () => {
    expect(states.RunWorkerOnSpot.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    expect(states.RunWorkerOnDemand.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE', Weight: 1 },
    ]);
    for (const name of ['RunWorkerOnSpot', 'RunWorkerOnDemand']) {
      expect(states[name].Parameters?.LaunchType).toBeUndefined();
    }
  });

  test('both runs are the same task with the same overrides, apart from the capacity provider', () => {
    const withoutCapacity = (state: AslState) => ({
      ...state.Parameters,
      CapacityProviderStrategy: undefined,
    });
    expect(withoutCapacity(states.RunWorkerOnSpot)).toEqual(withoutCapacity(states.RunWorkerOnDemand));
    expect(states.RunWorkerOnSpot.Parameters?.Overrides).toBeDefined();
    expect(states.RunWorkerOnSpot.TimeoutSeconds).toBe(states.RunWorkerOnDemand.TimeoutSeconds);
  });

  test("every launch error class falls back to on-demand once Spot's retries are spent; a worker failure is examined; the rest fails", () => {
    expect(states.RunWorkerOnSpot.Catch).toEqual([
      {
        ErrorEquals: ['ECS.AmazonECSException', 'AmazonECS.Unknown', 'ECS.InvalidParameterException'],
        ResultPath: '$.spotError',
        Next: 'RunWorkerOnDemand',
      },
      { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'WasSpotInterrupted' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLaunchSlot' },
    ]);
    expect([...(states.RunWorkerOnSpot.Catch?.[0].ErrorEquals ?? [])].sort()).toEqual(LAUNCH_ERRORS);
  });

  test('a Spot task stopped by an interruption, or before it ran, runs again on demand; any other failure fails', () => {
    expect(states.WasSpotInterrupted).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [
        {
          Or: [
            { Variable: '$.error.Cause', StringMatches: '*"StopCode":"SpotInterruption"*' },
            { Variable: '$.error.Cause', StringMatches: FAILED_TO_START },
          ],
          Next: 'RunWorkerOnDemand',
        },
      ],
      Default: 'ReleaseLaunchSlot',
    });
  });

  test('the on-demand run relaunches a task that failed to start and catches everything else into the Fail state', () => {
    expect(states.RunWorkerOnDemand.Catch).toEqual([
      { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'OnDemandWasTaskStarted' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLaunchSlot' },
    ]);
    expect(states.OnDemandCountFirstRelaunch.Next).toBe('RunWorkerOnDemand');
    expect(states.OnDemandCountRelaunch.Next).toBe('RunWorkerOnDemand');
    expect(states.ObjectFailed.Type).toBe('Fail');
  });
});

describe('ProcessObjectStep is shared with the backfill', () => {
  test.each(MODES)('the backfill map runs exactly the states of the event-driven workflow (%s)', (mode) => {
    const synth = { 'on-demand': onDemand, spot, 'spot-with-fallback': fallback }[mode];
    const backfill = definitionOf(synth, { stateMachine: synth.ids.backfillStateMachine });
    const [map] = Object.values(statesOfType(backfill, 'Map'));
    const processor = map.ItemProcessor as { StartAt: string; States: Record<string, AslState> };
    expect({ StartAt: processor.StartAt, States: processor.States }).toEqual({
      StartAt: definitions[mode].StartAt,
      States: definitions[mode].States,
    });
  });
});

describe('ProcessObjectStep capacity providers are those of the cluster', () => {
  test.each(MODES)(
    'every provider a task state asks for is associated with the cluster it runs on (%s)',
    (mode) => {
      // GIVEN every task state of both state machines in this capacity mode
      const synth = { 'on-demand': onDemand, spot, 'spot-with-fallback': fallback }[mode];
      const [, map] = backfillMapOf(synth);
      const tasks = [...tasksOf(definitions[mode]), ...tasksOf(map.ItemProcessor)].map(([, task]) => task);
      expect(tasks.length).toBeGreaterThan(0);
      // THEN each runs on the pipeline's cluster, and RunTask can place it: the cluster has
      // the providers it names (otherwise ECS rejects the call with InvalidParameterException)
      const { resource } = onlyResource(synth.template, 'AWS::ECS::ClusterCapacityProviderAssociations');
      expect(resource.Properties.Cluster).toEqual({ Ref: synth.ids.cluster });
      const associated = resource.Properties.CapacityProviders as string[];
      for (const task of tasks) {
        expect(task.Parameters?.Cluster).toBe(`<${synth.ids.cluster}.Arn>`);
        const strategy = (task.Parameters?.CapacityProviderStrategy ?? []) as { CapacityProvider: string }[];
        expect(strategy.map((s) => s.CapacityProvider).filter((p) => !associated.includes(p))).toEqual([]);
      }
      expect(associated).toEqual(expect.arrayContaining(['FARGATE', 'FARGATE_SPOT']));
    },
  );
});

describe("ProcessObjectStep names the result's location in its output", () => {
  test.each(MODES)(
    'the record put names $.result as it takes the object; every task state then releases its slot (%s)',
    (mode) => {
      const definition = definitions[mode];
      for (const [, task] of tasksOf(definition)) expect(task.Next).toBe('ReleaseLaunchSlot');
      expect(definition.States).not.toHaveProperty('NameResult');
      expect(definition.States.RecordObject.Output).toContain(
        `'result': {'bucket': '<${onDemand.ids.dataBucket}>', 'key': "processed/" & $states.input.key & '.json'}`,
      );
      // AND after the release, a task's result is success and anything else the Fail state: the
      // release's own choice decides when nobody waits (one state fewer on every object's path)
      expect(definition.States.IsAnyoneWaiting.Choices).toEqual([
        expect.objectContaining({ Next: 'GrantLaunchSlot' }),
        { Variable: '$.task', IsPresent: true, Next: 'ObjectProcessed' },
      ]);
      expect(definition.States.IsAnyoneWaiting.Default).toBe('WasObjectProcessed');
      expect(definition.States.WasObjectProcessed).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.task', IsPresent: true, Next: 'ObjectProcessed' }],
        Default: 'ObjectFailed',
      });
      expect(definition.States.ObjectProcessed).toEqual({ Type: 'Succeed' });
    },
  );

  test('names the output bucket when results go to another bucket', () => {
    const definition = definitionOf(synthesized('outputBucket'));
    expect(definition.States.RecordObject.Output).toContain("'result': {'bucket': 'some-bucket'");
  });

  test('run as deployed, an execution outputs result: { bucket, key } beside its input (the backfill item too)', async () => {
    // GIVEN the synthesized definitions, run by the project's engine against the template's tables,
    // the task succeeding
    const input = { bucket: 'data', key: "incoming/a b{1}'s.csv", etag: '"e"', versionId: '' };
    for (const synth of [fallback, onDemand]) {
      const rig = await recordsRig(synth.template, synth.ids.objectRecordsTable);
      try {
        const [mapName] = backfillMapOf(synth);
        const backfill = rig.definitionOf(synth.ids.backfillStateMachine);
        const itemProcessor = (
          backfill.States[mapName] as unknown as { ItemProcessor: StateMachineDefinition }
        ).ItemProcessor;
        const machines = [rig.definitionOf(synth.ids.workflowStateMachine), itemProcessor];
        for (const [index, definition] of machines.entries()) {
          const run = await runExecution(rig, definition, input, { name: `e${index}`, runTask: succeeding });
          // THEN the key is outputPrefix + key + ".json", the key as is (braces and quotes too)
          expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({ status: 'SUCCEEDED' });
          expect(run.output).toMatchObject({
            ...input,
            task: { StopCode: 'EssentialContainerExited', ExitCodes: [0] },
            result: {
              bucket: rig.deployment.ref(synth.ids.dataBucket),
              key: "processed/incoming/a b{1}'s.csv.json",
            },
          });
          // (each machine's run is an object of its own)
          await deleteRecord(rig, input);
        }
      } finally {
        await rig.close();
      }
    }
  });

  test('an outputPrefix with characters intrinsics and JSONata reserve ({, }, \', ", %}) reaches the key unchanged', async () => {
    // GIVEN the step built alone, with a prefix holding them
    const stack = freshStack();
    const props = stepProps(stack, { taskTimeout: Duration.minutes(5), outputPrefix: 'out{x}/it\'s/"%}"/' });
    const step = new ProcessObjectStep(stack, 'Step', props);
    const stateMachine = new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromChainable(step.startState),
    });
    const rig = await recordsRig(Template.fromStack(stack), logicalIdOf(stack, props.records.table));
    try {
      // WHEN it runs
      const run = await runExecution(
        rig,
        rig.definitionOf(logicalIdOf(stack, stateMachine)),
        { bucket: 'data', key: 'k{}.txt', etag: 'e', versionId: '' },
        { runTask: succeeding },
      );
      // THEN
      expect(run.output).toMatchObject({
        result: { bucket: 'results', key: 'out{x}/it\'s/"%}"/k{}.txt.json' },
      });
    } finally {
      await rig.close();
    }
  });
});

/** Every task exits 0, a minute after the execution started. */
const succeeding = async () =>
  stoppedTask(0, { createdAt: START_MS + 1_000, startedAt: START_MS + 2_000, stoppedAt: START_MS + 60_000 });

async function deleteRecord(rig: RecordsRig, object: { bucket: string; key: string; etag: string }) {
  const key = objectRecordKey(object.bucket, object.key, object.etag);
  await rig.dynamodb.client.send(
    new DeleteItemCommand({
      TableName: rig.table,
      Key: { bucket: { S: key.bucket }, objectVersion: { S: key.objectVersion } },
    }),
  );
}

describe('ProcessObjectStep built alone: what its state machine may run', () => {
  // GIVEN the step alone in a fresh stack of an app with aws-cdk-lib's run-task policy fix on
  // (as cdk.json has it), inside a state machine
  const FAMILY_ARN = 'arn:aws:ecs:us-east-1:123456789012:task-definition/AloneTaskDefinition';
  let statements: Statement[];
  let clusterId: string;
  beforeAll(() => {
    const app = new App({ context: { [STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY]: true } });
    const stack = new Stack(app, 'Alone', { env: { account: '123456789012', region: 'us-east-1' } });
    const props = stepProps(stack, { taskTimeout: Duration.minutes(5) });
    const { cluster, taskDefinition } = props;
    const step = new ProcessObjectStep(stack, 'ProcessObjectStep', props);
    const stateMachine = new sfn.StateMachine(stack, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(step.startState),
    });
    const template = Template.fromStack(stack);
    clusterId = logicalIdOf(stack, cluster);
    const taskDefinitionId = logicalIdOf(stack, taskDefinition);
    // a deployed task definition ARN, so the Fn::Select/Fn::Split of it can be evaluated
    statements = statementsOfRole(template, logicalIdOf(stack, stateMachine.role), (id, attribute) =>
      id === taskDefinitionId && !attribute ? `${FAMILY_ARN}:7` : placeholder(id, attribute),
    );
  });

  test('RunTask: any revision of the task definition family, in the given cluster only', () => {
    const runTask = statements.filter((s) => s.Action.includes('ecs:RunTask'));
    expect(runTask).toHaveLength(1);
    expect(runTask[0].Condition).toEqual({ ArnEquals: { 'ecs:cluster': `<${clusterId}.Arn>` } });
    expect(runTask[0].Resource).toEqual([`${FAMILY_ARN}:*`]);
  });

  test('StopTask and DescribeTasks: tasks of the given cluster only', () => {
    const polling = statements.filter((s) => s.Action.includes('ecs:StopTask'));
    expect(polling.map((s) => [...s.Action].sort())).toEqual([['ecs:DescribeTasks', 'ecs:StopTask']]);
    expect(polling).toEqual([
      expect.objectContaining({
        Resource: ['*'],
        Condition: { ArnEquals: { 'ecs:cluster': `<${clusterId}.Arn>` } },
      }),
    ]);
  });
});

describe('ProcessObjectStep built alone', () => {
  type StepOverrides = Partial<ProcessObjectStepProps> | ((stack: Stack) => Partial<ProcessObjectStepProps>);
  const build = (overrides: StepOverrides = {}) => {
    // GIVEN the step alone in a fresh stack (a public VPC, on-demand, 60-minute tasks, a 1-hour wait)
    const stack = freshStack();
    const props = stepProps(stack, typeof overrides === 'function' ? overrides(stack) : overrides);
    const step = new ProcessObjectStep(stack, 'ProcessObjectStep', props);
    // WHEN its RunTask states are rendered
    const states: Record<string, AslState> = Object.fromEntries(
      step.runTaskStates.map((state) => [state.stateId, stack.resolve(state.toStateJson()) as AslState]),
    );
    return { stack, props, step, states };
  };
  const networkOf = (state: AslState) =>
    (state.Parameters?.NetworkConfiguration as { AwsvpcConfiguration: Record<string, unknown> })
      .AwsvpcConfiguration;
  /** The retrier of the capacity errors (throttling, vCPU quota, no capacity) of a RunTask state. */
  const capacityRetrier = (state: AslState) => {
    const retry = (state.Retry ?? []).find(
      (r) => [...r.ErrorEquals].sort().join() === CAPACITY_ERRORS.join(),
    );
    if (!retry) throw new Error('no capacity retrier');
    return retry;
  };

  test('assignPublicIp true asks ECS for a public IP (ENABLED); false leaves it out, which ECS takes as DISABLED', () => {
    const { states: enabled } = build({ assignPublicIp: true });
    expect(networkOf(enabled.RunWorker).AssignPublicIp).toBe('ENABLED');
    const { states: disabled } = build({ assignPublicIp: false });
    // (aws-cdk-lib renders false as no AssignPublicIp at all; ECS's default is DISABLED)
    expect(networkOf(disabled.RunWorker)).not.toHaveProperty('AssignPublicIp');
  });

  test('subnets and securityGroup place the task network interface (NetworkConfiguration)', () => {
    // GIVEN the VPC's public subnets and the Tasks security group
    const byDefault = build();
    expect(networkOf(byDefault.states.RunWorker)).toEqual({
      AssignPublicIp: 'ENABLED',
      Subnets: byDefault.stack.resolve(byDefault.props.cluster.vpc.publicSubnets.map((s) => s.subnetId)),
      SecurityGroups: [byDefault.stack.resolve(byDefault.props.securityGroup.securityGroupId)],
    });
    // GIVEN one named subnet and another security group
    const chosen = build((stack) => ({
      subnets: {
        subnets: [
          ec2.Subnet.fromSubnetAttributes(stack, 'Chosen', {
            subnetId: 'subnet-0chosen',
            availabilityZone: 'us-east-1a',
          }),
        ],
      },
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Other', 'sg-0other'),
    }));
    // THEN the task goes there, and only there
    expect(networkOf(chosen.states.RunWorker)).toEqual({
      AssignPublicIp: 'ENABLED',
      Subnets: ['subnet-0chosen'],
      SecurityGroups: ['sg-0other'],
    });
  });

  test('capacity on-demand runs with LaunchType FARGATE and no capacity provider strategy; spot on FARGATE_SPOT only', () => {
    const onDemandStep = build({ capacity: 'on-demand' });
    expect(Object.keys(onDemandStep.states)).toEqual(['RunWorker']);
    expect(onDemandStep.states.RunWorker.Parameters?.LaunchType).toBe('FARGATE');
    expect(onDemandStep.states.RunWorker.Parameters).not.toHaveProperty('CapacityProviderStrategy');
    const spotStep = build({ capacity: 'spot' });
    expect(Object.keys(spotStep.states)).toEqual(['RunWorker']);
    expect(spotStep.states.RunWorker.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    expect(spotStep.states.RunWorker.Parameters).not.toHaveProperty('LaunchType');
  });

  test('capacity spot-with-fallback runs on Spot first, caught on every launch error into the on-demand run', () => {
    const { step, states } = build({ capacity: 'spot-with-fallback' });
    // THEN two RunTask states, the Spot one run first, once a launch slot is held
    expect(Object.keys(states)).toEqual(['RunWorkerOnSpot', 'RunWorkerOnDemand']);
    expect(step.runTaskStates.map((s) => s.id)).toEqual(['RunWorkerOnSpot', 'RunWorkerOnDemand']);
    expect(step.startState.id).toBe('RecordObject');
    expect(states.RunWorkerOnSpot.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    expect(states.RunWorkerOnDemand.Parameters?.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE', Weight: 1 },
    ]);
    // AND the Spot run's first catcher takes every launch error class to the on-demand run
    const [fallsBack] = states.RunWorkerOnSpot.Catch ?? [];
    expect(fallsBack).toEqual({
      ErrorEquals: expect.any(Array),
      ResultPath: '$.spotError',
      Next: 'RunWorkerOnDemand',
    });
    expect([...fallsBack.ErrorEquals].sort()).toEqual(LAUNCH_ERRORS);
  });

  test("capacityWait sets the capacity retrier's MaxAttempts: a longer wait, more attempts; the other retrier keeps its own", () => {
    // GIVEN a 1-hour and a 12-hour wait
    const [short, long] = [Duration.hours(1), Duration.hours(12)].map((capacityWait) =>
      build({ capacityWait }),
    );
    const shortRetry = capacityRetrier(short.states.RunWorker);
    const longRetry = capacityRetrier(long.states.RunWorker);
    // THEN each has the fewest attempts whose mean wait reaches it
    expect(shortRetry.MaxAttempts).toBe(attemptsFor(3600));
    expect(longRetry.MaxAttempts).toBe(attemptsFor(12 * 3600));
    expect(longRetry.MaxAttempts).toBeGreaterThan(shortRetry.MaxAttempts as number);
    // AND the ECS.InvalidParameterException retrier does not follow capacityWait
    const invalidParameter = (synth: typeof short) =>
      synth.states.RunWorker.Retry?.find((r) => r.ErrorEquals.includes('ECS.InvalidParameterException'));
    expect(invalidParameter(short)?.MaxAttempts).toBe(attemptsFor(INVALID_PARAMETER_WAIT.toSeconds()));
    expect(invalidParameter(long)).toEqual(invalidParameter(short));
    // AND the longest path waits longer
    expect(long.step.longestRun.toSeconds()).toBeGreaterThan(short.step.longestRun.toSeconds());
  });

  test("with spot-with-fallback, capacityWait is the on-demand run's wait; Spot waits SPOT_CAPACITY_WAIT", () => {
    const [short, long] = [Duration.hours(1), Duration.hours(12)].map((capacityWait) =>
      build({ capacity: 'spot-with-fallback', capacityWait }),
    );
    for (const { states } of [short, long]) {
      expect(capacityRetrier(states.RunWorkerOnSpot).MaxAttempts).toBe(
        attemptsFor(SPOT_CAPACITY_WAIT.toSeconds()),
      );
    }
    expect(capacityRetrier(short.states.RunWorkerOnDemand).MaxAttempts).toBe(attemptsFor(3600));
    expect(capacityRetrier(long.states.RunWorkerOnDemand).MaxAttempts).toBe(attemptsFor(12 * 3600));
  });

  test("taskTimeout is each RunTask state's TimeoutSeconds, and longestRun grows by it on every run of the path", () => {
    // GIVEN 5-minute and 60-minute tasks
    const [short, long] = [Duration.minutes(5), Duration.minutes(60)].map((taskTimeout) =>
      build({ taskTimeout }),
    );
    expect(short.states.RunWorker.TimeoutSeconds).toBe(300);
    expect(long.states.RunWorker.TimeoutSeconds).toBe(3600);
    // THEN on-demand, the path is the wait in line, a run and its relaunches, each after the worst
    // launch wait, and the release
    const worstWait =
      worstWaitSeconds(attemptsFor(short.props.capacityWait.toSeconds())) +
      worstWaitSeconds(attemptsFor(INVALID_PARAMETER_WAIT.toSeconds()));
    expect(short.step.longestRun.toSeconds()).toBe(
      short.props.capacityWait.toSeconds() +
        RELEASE_ALLOWANCE.toSeconds() +
        (1 + MAX_RELAUNCHES) * (worstWait + 300),
    );
    expect(long.step.longestRun.toSeconds() - short.step.longestRun.toSeconds()).toBe(
      (1 + MAX_RELAUNCHES) * (3600 - 300),
    );
    // AND spot-with-fallback adds the Spot run's timeout to the path
    const [shortFallback, longFallback] = [Duration.minutes(5), Duration.minutes(60)].map((taskTimeout) =>
      build({ capacity: 'spot-with-fallback', taskTimeout }),
    );
    for (const name of ['RunWorkerOnSpot', 'RunWorkerOnDemand']) {
      expect(longFallback.states[name].TimeoutSeconds).toBe(3600);
    }
    expect(longFallback.step.longestRun.toSeconds() - shortFallback.step.longestRun.toSeconds()).toBe(
      (1 + 1 + MAX_RELAUNCHES) * (3600 - 300),
    );
  });
});

describe('ProcessObjectStep: bounded history', () => {
  /**
   * The most history events an execution of `definition` can have: every Task state entered as often
   * as it can be (a run state once per run: the first and MAX_RELAUNCHES relaunches; the others
   * once) with every retry of every retrier spent, EVENTS_PER_LAUNCH_ATTEMPT each, and two events for
   * each state entered and left.
   */
  function worstHistoryEvents(definition: AslDefinition): number {
    let events = 2; // ExecutionStarted, and how it ended
    for (const [name, state] of Object.entries(definition.States)) {
      const runs = /^RunWorker(OnDemand)?$/.test(name) ? 1 + MAX_RELAUNCHES : 1;
      const attempts = 1 + (state.Retry ?? []).reduce((sum, r) => sum + (r.MaxAttempts ?? 3), 0);
      events += runs * (2 + (state.Type === 'Task' ? attempts * EVENTS_PER_LAUNCH_ATTEMPT : 0));
    }
    return events;
  }

  test.each(['on-demand', 'spot', 'spot-with-fallback'])(
    'at capacityWaitMinutes 10080 (its maximum) no %s execution can reach 25,000 history events',
    (capacity) => {
      const { template, stack } = synthPipeline({ capacityWaitMinutes: '10080', capacity });
      const definition = definitionOf({ template, ids: constructIds(stack) } as Synthesized);
      // without the cap the capacity retries alone would pass it
      expect(attemptsFor(10080 * 60) * (1 + MAX_RELAUNCHES) * EVENTS_PER_LAUNCH_ATTEMPT).toBeGreaterThan(
        HISTORY_EVENT_LIMIT,
      );
      expect(worstHistoryEvents(definition)).toBeLessThan(HISTORY_EVENT_LIMIT);
      // and the cap leaves most of the budget to the launches (Spot's own short wait aside)
      expect(worstHistoryEvents(definition)).toBeGreaterThan(HISTORY_EVENT_LIMIT * 0.7);
    },
  );

  test('below the cap, capacityWaitMinutes alone sets the retries (12 h: the default)', () => {
    expect(worstHistoryEvents(definitionOf(onDemand))).toBeLessThan(HISTORY_EVENT_LIMIT / 5);
  });
});
