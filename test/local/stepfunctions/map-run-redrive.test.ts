process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ExecutionNotRedrivable,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { AutoClock, type Clock, VirtualClock } from '../../../local/clock';
import type { LocalEndpoint } from '../../../local/endpoint/server';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import type {
  LocalStateMachineResource,
  StateMachineDefinition,
} from '../../../local/stepfunctions/definitions';
import { ExecutionJournal } from '../../../local/stepfunctions/execution-journal';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { startTestEndpoint, testClientOptions } from '../support/test-endpoint';

/**
 * RedriveExecution of a backfill-like run whose Distributed Map failed, through the SDK v3 client
 * against the endpoint: the same Map Run is redriven (only its unsuccessful children run again, under
 * their ARNs; items it never started are started; succeeded ones are not rerun), as DescribeMapRun,
 * ListExecutions and the histories show it; a second redrive is refused as AWS refuses it; and the
 * same after a restart, from the journal. On a virtual clock; each task takes 10 s of it.
 */

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Backfill';
const ITEMS = ['a', 'b', 'c', 'd', 'e'];

/** The backfill's shape: items through an ItemSelector, one Standard child each, 10% tolerated. */
const backfill: LocalStateMachineResource = {
  logicalId: 'Backfill',
  arn: ARN,
  definition: {
    StartAt: 'ForEachExistingObject',
    States: {
      ForEachExistingObject: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemSelector: { 'key.$': '$$.Map.Item.Value' },
        MaxConcurrency: 1,
        ToleratedFailurePercentage: 10,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'RunWorker',
          States: {
            RunWorker: {
              Type: 'Task',
              Resource: 'arn:aws:states:::ecs:runTask.sync',
              Parameters: { 'key.$': '$.key' },
              End: true,
            },
          },
        },
        ResultPath: null,
        End: true,
      },
    },
  } as unknown as StateMachineDefinition,
};

interface Local {
  readonly stepFunctions: LocalStepFunctions;
  readonly endpoint: LocalEndpoint;
  readonly sfn: SFNClient;
  /** Task launches, by key. */
  readonly launches: Map<string, number>;
}

const opened: Local[] = [];
let journalDir: string;
beforeEach(() => {
  journalDir = mkdtempSync(join(tmpdir(), 'map-run-redrive-'));
});
afterEach(async () => {
  for (const local of opened.splice(0)) {
    local.sfn.destroy();
    await local.endpoint.close();
  }
  rmSync(journalDir, { recursive: true, force: true });
});

/** The local Step Functions on `clock` and the journal, served on a fresh endpoint; tasks of `broken` keys exit 1. */
async function open(clock: Clock, broken: Set<string>, machine = backfill): Promise<Local> {
  const launches = new Map<string, number>();
  const stepFunctions = new LocalStepFunctions({
    clock,
    journal: new ExecutionJournal(journalDir),
    stateMachines: [machine],
    runTask: async ({ parameters, signal }) => {
      const { key } = parameters as { key: string };
      launches.set(key, (launches.get(key) ?? 0) + 1);
      await clock.sleep(10_000, signal);
      if (broken.has(key)) throw new StatesError('States.TaskFailed', `worker for ${key} exited 1`);
      return { key };
    },
  });
  const endpoint = await startTestEndpoint(stepFunctions.api);
  const sfn = new SFNClient(testClientOptions(endpoint));
  const local = { stepFunctions, endpoint, sfn, launches };
  opened.push(local);
  return local;
}

const types = (events: readonly HistoryEvent[] | undefined) => (events ?? []).map((e) => e.type);

async function mapRunOf(sfn: SFNClient, executionArn: string): Promise<string> {
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn }));
  expect(mapRuns).toHaveLength(1);
  return mapRuns![0].mapRunArn!;
}

async function childrenOf(sfn: SFNClient, mapRunArn: string) {
  const { executions } = await sfn.send(new ListExecutionsCommand({ mapRunArn }));
  const keys = await Promise.all(
    (executions ?? []).map(async (child) => {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: child.executionArn }));
      return [(JSON.parse(described.input!) as { key: string }).key, described] as const;
    }),
  );
  return new Map(keys);
}

test('RedriveExecution of a failed backfill run redrives its Map Run: only the failed child and the items never started run', async () => {
  const clock = new AutoClock(Date.UTC(2026, 11, 1));
  const broken = new Set(['b']);
  const { stepFunctions, sfn, launches } = await open(clock, broken);

  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: ARN, name: 'run', input: JSON.stringify({ items: ITEMS }) }),
  );
  await stepFunctions.onIdle();
  // One failure in five is past 10%: the Map Run fails and starts nothing more.
  expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
    status: 'FAILED',
    error: 'States.ExceedToleratedFailureThreshold',
    redriveStatus: 'REDRIVABLE',
    redriveCount: 0,
  });
  const mapRunArn = await mapRunOf(sfn, executionArn!);
  expect(await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
    status: 'FAILED',
    redriveCount: 0,
    itemCounts: {
      pending: 3,
      running: 0,
      succeeded: 1,
      failed: 1,
      total: 5,
      pendingRedrive: 0,
      failuresNotRedrivable: 0,
    },
    executionCounts: { pending: 0, succeeded: 1, failed: 1, total: 2 },
  });
  const before = await childrenOf(sfn, mapRunArn);
  expect([...before.keys()].sort()).toEqual(['a', 'b']);
  expect(before.get('b')).toMatchObject({ status: 'FAILED', redriveStatus: 'REDRIVABLE_BY_MAP_RUN' });

  // The cause fixed, the run is redriven.
  broken.clear();
  const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
  await stepFunctions.onIdle();

  expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
    status: 'SUCCEEDED',
    redriveCount: 1,
    redriveDate,
    redriveStatus: 'NOT_REDRIVABLE',
  });
  expect(await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
    status: 'SUCCEEDED',
    redriveCount: 1,
    redriveDate,
    itemCounts: { pending: 0, running: 0, succeeded: 5, failed: 0, total: 5, pendingRedrive: 0 },
    executionCounts: { succeeded: 5, failed: 0, total: 5 },
  });
  // Still one Map Run; the failed child ran again under its ARN, the one that succeeded did not.
  expect(await mapRunOf(sfn, executionArn!)).toBe(mapRunArn);
  const after = await childrenOf(sfn, mapRunArn);
  expect([...after.keys()].sort()).toEqual(ITEMS);
  expect(after.get('b')).toMatchObject({
    executionArn: before.get('b')!.executionArn,
    status: 'SUCCEEDED',
    redriveCount: 1,
    redriveDate,
  });
  expect(after.get('a')).toMatchObject({ executionArn: before.get('a')!.executionArn, redriveCount: 0 });
  expect(Object.fromEntries(launches)).toEqual({ a: 1, b: 2, c: 1, d: 1, e: 1 });

  const parentHistory = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  const events = parentHistory.events ?? [];
  expect(types(events).slice(types(events).indexOf('ExecutionFailed'))).toEqual([
    'ExecutionFailed',
    'ExecutionRedriven',
    'MapStateEntered',
    'MapRunRedriven',
    'MapRunSucceeded',
    'MapStateExited',
    'ExecutionSucceeded',
  ]);
  const redriven = events.find((e) => e.type === 'MapRunRedriven')!;
  expect(redriven.mapRunRedrivenEventDetails).toEqual({ mapRunArn, redriveCount: 1 });
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  expect(redriven.previousEventId).toBe(redriven.id! - 1);
  const childHistory = await sfn.send(
    new GetExecutionHistoryCommand({ executionArn: before.get('b')!.executionArn }),
  );
  expect(types(childHistory.events)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskFailed',
    'ExecutionFailed',
    'ExecutionRedriven',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSucceeded',
    'TaskStateExited',
    'ExecutionSucceeded',
  ]);

  // Nothing failed any more: AWS's refusal, and nothing runs.
  const again = sfn.send(new RedriveExecutionCommand({ executionArn }));
  await expect(again).rejects.toBeInstanceOf(ExecutionNotRedrivable);
  await expect(again).rejects.toThrow(/Execution is SUCCEEDED and cannot be redriven/);
  // A child is redriven only through its Map Run.
  await expect(
    sfn.send(new RedriveExecutionCommand({ executionArn: before.get('b')!.executionArn })),
  ).rejects.toBeInstanceOf(ExecutionNotRedrivable);
  expect(stepFunctions.idle).toBe(true);
});

test('after a restart, the redrive finds the Map Run in the journal: its aborted child and unstarted items run, its succeeded one does not', async () => {
  // The first process stops 15 s in (a done, b running, c to e waiting) and is never heard of again.
  const first = await open(new VirtualClock(Date.UTC(2026, 11, 1)), new Set());
  const clockOfFirst = first.stepFunctions.clock as VirtualClock;
  const started = first.stepFunctions.startExecution(backfill, { items: ITEMS }, { name: 'run' });
  await clockOfFirst.advance(15_000);
  expect(Object.fromEntries(first.launches)).toEqual({ a: 1, b: 1 });

  // A new process on the same journal: what the first left running is ABORTED.
  const clock = new AutoClock(Date.UTC(2026, 11, 1, 1));
  const { stepFunctions, sfn, launches } = await open(clock, new Set());
  const { executionArn } = started;
  expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
    status: 'ABORTED',
    redriveStatus: 'REDRIVABLE',
  });
  const mapRunArn = await mapRunOf(sfn, executionArn);
  expect(await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
    status: 'ABORTED',
    itemCounts: { succeeded: 1, aborted: 1, total: 5 },
  });

  const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
  await stepFunctions.onIdle();
  expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
    status: 'SUCCEEDED',
    redriveCount: 1,
  });
  expect(await sfn.send(new DescribeMapRunCommand({ mapRunArn }))).toMatchObject({
    status: 'SUCCEEDED',
    redriveCount: 1,
    redriveDate,
    itemCounts: { succeeded: 5, aborted: 0, pending: 0, total: 5 },
  });
  // This process ran b again (redriven: same ARN) and started c to e; a ran only in the first.
  expect(Object.fromEntries(launches)).toEqual({ b: 1, c: 1, d: 1, e: 1 });
  const children = await childrenOf(sfn, mapRunArn);
  expect([...children.keys()].sort()).toEqual(ITEMS);
  expect(children.get('b')).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
  expect(children.get('a')).toMatchObject({ status: 'SUCCEEDED', redriveCount: 0 });
});

test('DescribeMapRun while a redrive runs: the children waiting their turn are pendingRedrive, the items never started pending', async () => {
  const clock = new VirtualClock(0);
  const broken = new Set(['a', 'b']);
  // One failure tolerated, not two.
  const oneTolerated: LocalStateMachineResource = {
    ...backfill,
    definition: JSON.parse(
      JSON.stringify(backfill.definition).replace(
        '"ToleratedFailurePercentage":10',
        '"ToleratedFailureCount":1',
      ),
    ) as StateMachineDefinition,
  };
  const { stepFunctions } = await open(clock, broken, oneTolerated);
  const call = (action: string, request: Record<string, unknown>) => stepFunctions.api.call(action, request);
  const { executionArn } = (await call('StartExecution', {
    stateMachineArn: ARN,
    input: JSON.stringify({ items: ['a', 'b', 'c'] }),
  })) as { executionArn: string };
  await clock.runAll();
  const { mapRuns } = (await call('ListMapRuns', { executionArn })) as {
    mapRuns: Array<{ mapRunArn: string }>;
  };
  const { mapRunArn } = mapRuns[0];
  // a failed (tolerated), b failed (one too many): c never started.
  expect(await call('DescribeMapRun', { mapRunArn })).toMatchObject({
    status: 'FAILED',
    itemCounts: { pending: 1, failed: 2, pendingRedrive: 0 },
  });

  broken.clear();
  await call('RedriveExecution', { executionArn });
  await clock.advance(5_000);
  expect(await call('DescribeMapRun', { mapRunArn })).toMatchObject({
    status: 'RUNNING',
    redriveCount: 1,
    itemCounts: { pending: 1, running: 1, failed: 1, pendingRedrive: 1 },
  });
  await clock.advance(10_000);
  expect(await call('DescribeMapRun', { mapRunArn })).toMatchObject({
    itemCounts: { pending: 1, running: 1, succeeded: 1, failed: 0, pendingRedrive: 0 },
  });
  await clock.runAll();
  expect(await call('DescribeMapRun', { mapRunArn })).toMatchObject({
    status: 'SUCCEEDED',
    itemCounts: { pending: 0, running: 0, succeeded: 3, total: 3, pendingRedrive: 0 },
  });
});
