import { existsSync, readdirSync } from 'node:fs';

import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';

import { GATE_RETRY, RELEASE_RETRY } from '../../lib/launch-gate';
import { RealClock } from '../../local/clock';
import type { GateFault, GateFaultKind } from '../../local/faults/gate-faults';
import type { ExecutionRecord, FaultOptions, LocalPipeline } from '../../local/pipeline';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../../local/s3/server';
import type { ServiceCallHook } from '../../local/stepfunctions/executions';
import { mostTasksAtOnce, releasedAfterEach, startTestPipeline, testDirectories } from './support/pipeline';
import { synthesizedTemplate } from './support/synthesized-template';

/**
 * The launch gate under every fault issue 19 names, end to end on the local pipeline: the
 * synthesized workflow, its gate on dynalite, the cleanup rule on status changes and the reconciler
 * on its schedule, all on one fast clock. A burst of 8 objects on 2 slots (0.5 vCPU tasks on a
 * quota of 1 vCPU in the template; the local Fargate quota allows 12, so only the gate bounds them).
 * In each case, once every execution has ended: the gate is at rest (no holder, no waiter), the
 * executions not stopped ran no more tasks at once than slots, and every object not stopped
 * succeeded, once, unless faults struck every attempt of its claim or its wait in line (then it
 * failed with that call's error, as on AWS).
 * What struck is asserted too, so no case passes without its faults.
 */

const SLOTS = 2;
const OBJECTS = 8;
/** Seconds of wall time from a task's launch to its command's first step: 20 s of pipeline time. */
const TASK_START = 0.1;
/** Fast enough that the reconciler's minute is 0.3 s; a task of 0.1 s is 20 s of pipeline time. */
const CLOCK_SPEED = 200;

let template: string;
beforeAll(async () => {
  template = await synthesizedTemplate({ cpu: '512', memoryMiB: '1024', fargateVcpuQuota: '1' });
});

const used = releasedAfterEach();

interface Burst {
  readonly pipeline: LocalPipeline;
  readonly executions: readonly ExecutionRecord[];
  /**
   * With `during`: the most executions not stopped seen running their task at once afterwards,
   * polled every few ms (each is a holder then: the count can only fall short of the truth).
   */
  readonly holdersAfter: number;
}

/**
 * Uploads the burst; resolves when every execution has ended. With `during`, the first `SLOTS` tasks
 * run until they are stopped, and `during` gets their executions once all of them run; the next two
 * wait for each other, however long the machine's load makes that (a lost slot leaves one waiting
 * alone until its TimeoutSeconds, 18 s of wall time at this speed, fails it); every other task takes
 * 0.1 s.
 *
 * Which tasks run long is decided by the tasks themselves (the first `SLOTS` to start), so `during`
 * waits for each to name its object, not for executions to enter RunWorker: a task starts a while
 * after its state is entered (here `TASK_START` of wall time, as Fargate provisions a task before its
 * container runs), and an execution stopped in that while never runs its task, so the next task would
 * run long in its place, unstopped, holding its slot until its timeout.
 */
async function burst(
  faults: FaultOptions,
  during?: (pipeline: LocalPipeline, longRunning: readonly ExecutionRecord[]) => Promise<void>,
  onServiceCall?: ServiceCallHook,
): Promise<Burst> {
  const dirs = (used.dirs = testDirectories());
  const markers = Array.from({ length: SLOTS }, (_, i) => `${dirs.dataDir}-long-${i}`);
  // A task that takes a marker names its object's key in it (one mkdir: never half written).
  const long = markers
    .map(
      (marker) => `if mkdir "${marker}" 2>/dev/null; then mkdir "${marker}/\${KEY##*/}"; exec sleep 600; fi`,
    )
    .join('; ');
  const met = `${dirs.dataDir}-met`;
  const meet =
    `mkdir -p "${met}"; touch "${met}/$$"; ` +
    `while [ "$(ls "${met}" | wc -l)" -lt ${SLOTS} ]; do sleep 0.05; done; sleep 0.1`;
  const pipeline = (used.pipeline = await startTestPipeline(template, {
    dataDir: dirs.dataDir,
    deadLetterDir: dirs.deadLetterDir,
    clock: new RealClock(CLOCK_SPEED),
    workerCommand: ['/bin/sh', '-c', during ? `sleep ${TASK_START}; ${long}; ${meet}` : 'sleep 0.1'],
    faults,
    onServiceCall,
  }));
  // All at once, so that most of them wait in line.
  await Promise.all(
    Array.from({ length: OBJECTS }, (_, i) => pipeline.upload(`incoming/object-${i}.txt`, `object ${i}`)),
  );
  let holdersAfter = 0;
  if (during) {
    const longRunning = await namedIn(pipeline, markers);
    const before = new Set(longRunning);
    await during(pipeline, longRunning);
    let idle = false;
    const settled = pipeline.waitForIdle().then(() => (idle = true));
    while (!idle) {
      holdersAfter = Math.max(holdersAfter, holders(pipeline).filter((e) => !before.has(e)).length);
      await tick();
    }
    await settled;
  }
  await pipeline.waitForIdle();
  return { pipeline, executions: pipeline.executions(), holdersAfter };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

/** The executions of the objects named in `markers` (their keys' last segment), once each names one. */
async function namedIn(pipeline: LocalPipeline, markers: readonly string[]): Promise<ExecutionRecord[]> {
  for (;;) {
    const named = markers.flatMap((marker) => (existsSync(marker) ? readdirSync(marker) : []));
    if (named.length === markers.length) {
      const keys = named.map((name) => `incoming/${name}`).sort();
      const executions = pipeline.executions().filter((e) => keys.includes(e.key));
      expect(executions.map((e) => [e.key, e.status]).sort()).toEqual(keys.map((key) => [key, 'RUNNING']));
      return executions;
    }
    await tick();
  }
}

/** The executions running their task. */
function holders(pipeline: LocalPipeline): ExecutionRecord[] {
  return pipeline.executions().filter((e) => e.status === 'RUNNING' && lastStateEntered(e) === 'RunWorker');
}

/**
 * What every case asserts: the gate at rest, never more tasks than slots (besides stopped
 * executions' tasks still stopping), every object run once (and at least `waited` of them waited in
 * line). With `givingUp`, an object whose claim or wait in line gave up (`gaveUp`) fails with that
 * call's error instead, as a gate call failing past its retries fails its object
 * (docs/launch-gate.md, "The calls"): a schedule of faults at a rate can strike every attempt of a
 * call.
 */
async function expectGateAtRest(
  { pipeline, executions }: Burst,
  stopped: readonly string[] = [],
  { waited = OBJECTS / 2, givingUp = false } = {},
) {
  expect(await pipeline.gateAtRest()).toEqual({ holders: 0, waiters: 0 });
  // The executions that held their slots to the end never ran more tasks at once than slots.
  expect(mostTasksAtOnce(executions.filter((e) => !stopped.includes(e.executionArn)))).toBeLessThanOrEqual(
    SLOTS,
  );
  // A stopped execution's task may still be stopping (SIGTERM, then SIGKILL after its stop timeout)
  // when its freed slot starts the next task, as on AWS: at most one task more for each.
  expect(pipeline.peakRunningTasks()).toBeLessThanOrEqual(SLOTS + stopped.length);
  expect(executions.map((e) => e.key).sort()).toEqual(
    Array.from({ length: OBJECTS }, (_, i) => `incoming/object-${i}.txt`).sort(),
  );
  const outcome = (e: ExecutionRecord) => {
    if (stopped.includes(e.executionArn)) return ['ABORTED'];
    const call = givingUp ? gaveUp(e) : undefined;
    return call ? ['FAILED', call.error, expect.stringContaining('(injected')] : ['SUCCEEDED'];
  };
  // A failure's error and cause are in the diff, so a failing run explains itself.
  const ending = (e: ExecutionRecord) => (e.status === 'FAILED' ? [e.status, e.error, e.cause] : [e.status]);
  expect(executions.map((e) => [e.key, ...ending(e)])).toEqual(executions.map((e) => [e.key, ...outcome(e)]));
  // It was a burst: objects waited in line (so releases handed slots on).
  expect(executions.filter((e) => e.tokenWaits.length > 0).length).toBeGreaterThanOrEqual(waited);
}

/** Stops `executions` through the SDK's StopExecution on the local endpoint, adding each to `stopped`. */
async function stopExecutions(
  pipeline: LocalPipeline,
  executions: readonly ExecutionRecord[],
  stopped: string[] = [],
): Promise<void> {
  const sfn = new SFNClient({
    endpoint: pipeline.endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_S3_CREDENTIALS },
  });
  for (const { executionArn } of executions) {
    await sfn.send(new StopExecutionCommand({ executionArn, cause: 'stopped mid-burst' }));
    stopped.push(executionArn);
  }
  sfn.destroy();
}

/** The states `e` entered, in order. */
function statesEntered(e: ExecutionRecord): string[] {
  return e.history.events
    .filter((h) => h.type.endsWith('StateEntered'))
    .map((h) => (h.stateEnteredEventDetails as { name: string }).name);
}

/** The state `e` entered last. */
const lastStateEntered = (e: ExecutionRecord) => statesEntered(e).at(-1);

/** Attempts of a gate call before it gives up: the first, then GATE_RETRY's retries. */
const GATE_ATTEMPTS = 1 + GATE_RETRY.maxAttempts!;

/**
 * The claim or wait in line of `e` that gave up, each of its GATE_ATTEMPTS attempts failed by an
 * injected fault, and the error it gave up with; undefined when none did.
 */
function gaveUp(e: ExecutionRecord): { readonly stateName: string; readonly error: string } | undefined {
  const events = e.history.events;
  const nameAt = (i: number) => (events[i].stateEnteredEventDetails as { name?: string } | undefined)?.name;
  let entered = events.length - 1;
  while (entered >= 0 && nameAt(entered) !== 'ClaimLaunchSlot' && nameAt(entered) !== 'WaitForLaunchSlot') {
    entered--;
  }
  if (entered < 0) return undefined;
  const injected: string[] = [];
  for (const event of events.slice(entered + 1)) {
    if (event.type === 'TaskStateExited') break;
    const failed = event.taskFailedEventDetails as { error: string; cause: string } | undefined;
    if (event.type === 'TaskFailed' && failed?.cause.includes('(injected')) injected.push(failed.error);
  }
  return injected.length === GATE_ATTEMPTS
    ? { stateName: nameAt(entered)!, error: injected.at(-1)! }
    : undefined;
}

test('holders stopped mid-burst: their slots are used again, and the gate comes to rest', async () => {
  const stopped: string[] = [];
  const run = await burst({}, async (pipeline, longRunning) => {
    await stopExecutions(pipeline, longRunning, stopped);
  });
  expect(stopped).toHaveLength(SLOTS);
  await expectGateAtRest(run, stopped);
  // Both freed slots ran tasks at once again.
  expect(run.holdersAfter).toBe(SLOTS);
});

test('holders stopped and their status-change events missed: the reconciler frees the slots', async () => {
  const stopped: string[] = [];
  const run = await burst(
    { gate: [{ kind: 'missed-event', amount: { count: SLOTS } }] },
    async (pipeline, longRunning) => {
      await stopExecutions(pipeline, longRunning, stopped);
    },
  );
  expect(run.pipeline.gateFaultsInjected()).toMatchObject({ 'missed-event': SLOTS });
  // No cleanup ran: the reconciler released them.
  const cleanups = run.pipeline.stepFunctions
    .executions()
    .filter((e) => e.stateMachineArn.includes('LaunchGateCleanup'));
  expect(cleanups).toHaveLength(0);
  await expectGateAtRest(run, stopped);
  expect(run.holdersAfter).toBe(SLOTS);
});

test.each([
  ['its status-change event delivered (the cleanup hands on)', []],
  ['its status-change event missed (no cleanup runs)', [{ kind: 'missed-event', amount: { count: 1 } }]],
] as Array<[string, GateFault[]]>)(
  'a releaser stopped between its grant and its wake-up: %s',
  async (_, gate) => {
    // The first workflow execution to wake a waiter is stopped instead (StopExecution through the
    // SDK): the waiter holds the slot it was granted, and nobody has woken it. The next hand-on (the
    // cleanup's, another release's, or the reconciler's) finds it first in line, already granted.
    let releaser: string | undefined;
    const stopReleaser: ServiceCallHook = async (call, send) => {
      if (
        releaser !== undefined ||
        call.stateName !== 'HandOnLaunchSlot' ||
        !call.stateMachineArn.includes('Workflow')
      )
        return send();
      releaser = call.executionArn;
      const sfn = new SFNClient({
        endpoint: used.pipeline!.endpoint,
        region: LOCAL_REGION,
        credentials: { ...LOCAL_S3_CREDENTIALS },
      });
      await sfn.send(new StopExecutionCommand({ executionArn: releaser, cause: 'stopped mid-hand-on' }));
      sfn.destroy();
      return new Promise<never>(() => undefined);
    };
    const run = await burst({ gate }, undefined, stopReleaser);
    expect(releaser).toBeDefined();
    expect(run.executions.find((e) => e.executionArn === releaser)?.history.events.at(-1)?.type).toBe(
      'ExecutionAborted',
    );
    expect(run.pipeline.gateFaultsInjected()?.['missed-event'] ?? 0).toBe(gate.length);
    await expectGateAtRest(run, [releaser!]);
  },
);

/** Each gate call of the workflow: its first four calls throttled, lost before, lost after, delivered twice. */
const EVERY_KIND: GateFaultKind[] = ['throttle', 'lost-before', 'lost-after', 'duplicate'];
test.each([
  ['joining: the claim and the wait in line', ['ClaimLaunchSlot', 'WaitForLaunchSlot']],
  [
    'releasing: the release, the look at the line, the grant',
    ['ReleaseLaunchSlot', 'FindWaitingExecution', 'GrantLaunchSlot'],
  ],
  [
    "waking: the wake-up (SendTaskSuccess) and the waiter item's removal",
    ['HandOnLaunchSlot', 'RemoveWokenWaiter'],
  ],
])(
  '%s: each call throttled, its answer lost before and after it took effect, delivered twice',
  async (_, stateNames) => {
    const gate: GateFault[] = stateNames.flatMap((stateName) =>
      EVERY_KIND.map((kind) => ({ kind, amount: { count: 1 }, stateName })),
    );
    const run = await burst({ gate });
    expect(run.pipeline.gateFaultsInjected()).toMatchObject(
      Object.fromEntries(EVERY_KIND.map((k) => [k, stateNames.length])),
    );
    await expectGateAtRest(run);
  },
);

test('a claim whose every attempt took effect but lost its answer: each object fails, releasing any slot it took', async () => {
  const run = await burst({
    gate: [{ kind: 'lost-after', amount: { rate: 1.0 }, stateName: 'ClaimLaunchSlot' }],
  });
  // Every attempt of every claim reached DynamoDB (applied, or refused: every slot taken) and lost its answer.
  expect(run.pipeline.gateFaultsInjected()).toMatchObject({ 'lost-after': OBJECTS * GATE_ATTEMPTS });
  expect(run.executions.map((e) => [e.key, e.status, gaveUp(e)])).toEqual(
    run.executions.map((e) => [
      e.key,
      'FAILED',
      { stateName: 'ClaimLaunchSlot', error: 'DynamoDb.InternalServerErrorException' },
    ]),
  );
  // None of them ran a task; each released what its claim may have taken, then failed.
  expect(run.pipeline.peakRunningTasks()).toBe(0);
  for (const e of run.executions) {
    expect(statesEntered(e)).toEqual([
      'RecordObject',
      'ClaimLaunchSlot',
      'ReleaseLaunchSlot',
      'FindWaitingExecution',
      'IsAnyoneWaiting',
      'WasObjectProcessed',
      'ObjectFailed',
    ]);
  }
  expect(await run.pipeline.gateAtRest()).toEqual({ holders: 0, waiters: 0 });
});

test('every fault at a rate over every gate call and event, with holders stopped: seeded, at rest', async () => {
  const stopped: string[] = [];
  const rate = { rate: 0.15 };
  const run = await burst(
    {
      seed: 19,
      gate: [...EVERY_KIND, 'missed-event' as const].map((kind) => ({ kind, amount: rate })),
    },
    async (pipeline, longRunning) => {
      await stopExecutions(pipeline, longRunning, stopped);
    },
  );
  const injected = run.pipeline.gateFaultsInjected()!;
  // Which call draws which fault depends on the order calls come in, which real processes vary; over
  // the ~150 gate calls of a burst each kind strikes (none would with odds of about 1 in 10^7).
  for (const kind of EVERY_KIND) expect([kind, injected[kind] > 0]).toEqual([kind, true]);
  // Retried claims come late: fewer may find every slot taken. At these rates a claim or a wait in line
  // gives up about once in 50 bursts (each attempt fails with odds 0.386: 1 - 0.85^3), its object failed.
  await expectGateAtRest(run, stopped, { waited: 1, givingUp: true });
});

/** `SLOTS` objects whose tasks run until both are stopped, with `faults`; resolves once nothing runs. */
async function stopBothHolders(faults: FaultOptions) {
  const dirs = (used.dirs = testDirectories());
  const pipeline = (used.pipeline = await startTestPipeline(template, {
    dataDir: dirs.dataDir,
    deadLetterDir: dirs.deadLetterDir,
    clock: new RealClock(CLOCK_SPEED),
    workerCommand: ['/bin/sh', '-c', 'sleep 600'],
    faults,
  }));
  await Promise.all(
    Array.from({ length: SLOTS }, (_, i) => pipeline.upload(`incoming/last-${i}.txt`, `last ${i}`)),
  );
  // No object waits for these slots: whether a task started before its execution stopped changes nothing.
  while (holders(pipeline).length < SLOTS) await tick();
  await stopExecutions(pipeline, holders(pipeline));
  return pipeline;
}

/** The reconciler's repairs, as it published them (docs/launch-gate.md, "Reconciler"). */
const repairs = (pipeline: LocalPipeline, metric: string) =>
  pipeline.cloudwatch.recorded.filter((r) => r.datum.MetricName === metric).length;

test('holders stopped last, their events missed: released by the reconciler before the gate is at rest', async () => {
  const pipeline = await stopBothHolders({ gate: [{ kind: 'missed-event', amount: { count: SLOTS } }] });

  expect(await pipeline.gateAtRest()).toEqual({ holders: 0, waiters: 0 });
  // No cleanup ran: the reconciler found both holders ABORTED and released them.
  expect(
    pipeline.stepFunctions.executions().filter((e) => e.stateMachineArn.includes('LaunchGateCleanup')),
  ).toEqual([]);
  expect(repairs(pipeline, 'HoldersNotRunning')).toBe(SLOTS);
  expect(pipeline.gateFaultsInjected()).toMatchObject({ 'missed-event': SLOTS });
  expect(pipeline.executions().map((e) => e.status)).toEqual(['ABORTED', 'ABORTED']);
});

test("the reconciler's own calls throttled, lost before and after, duplicated: a later run finishes the repair", async () => {
  const gate: GateFault[] = [
    { kind: 'missed-event', amount: { count: SLOTS } },
    ...EVERY_KIND.map((kind) => ({ kind, amount: { count: 1 }, stateName: 'ReleaseStaleHolder' })),
    ...EVERY_KIND.map((kind) => ({ kind, amount: { count: 1 }, stateName: 'WriteLaunchLimit' })),
  ];
  const pipeline = await stopBothHolders({ gate });
  expect(await pipeline.gateAtRest()).toEqual({ holders: 0, waiters: 0 });
  expect(pipeline.gateFaultsInjected()).toEqual({
    'missed-event': SLOTS,
    throttle: 2,
    'lost-before': 2,
    'lost-after': 2,
    duplicate: 2,
  });
});

test("the cleanup's LeaveLaunchLine failing every attempt: it still releases (here the reconciler never can)", async () => {
  const pipeline = await stopBothHolders({
    gate: [
      { kind: 'throttle', amount: { rate: 1.0 }, stateName: 'LeaveLaunchLine' },
      { kind: 'lost-before', amount: { rate: 1.0 }, stateName: 'ReleaseStaleHolder' },
    ],
  });
  expect(await pipeline.gateAtRest()).toEqual({ holders: 0, waiters: 0 });
  // Each holder's cleanup ran once, and its delete of the (absent) waiter item failed every attempt.
  expect(pipeline.gateFaultsInjected()?.throttle).toBe(SLOTS * (1 + RELEASE_RETRY.maxAttempts!));
  expect(repairs(pipeline, 'HoldersNotRunning')).toBe(0);
  expect(pipeline.executions().map((e) => e.status)).toEqual(['ABORTED', 'ABORTED']);
});
