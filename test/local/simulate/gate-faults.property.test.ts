import { GATE_FAULT_KINDS, type GateFault } from '../../../local/faults/gate-faults';
import { loadSimulatedWorkflow } from '../../../local/simulate/planner';
import { mulberry32, simulate, type SimulationResult } from '../../../local/simulate/simulation';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The launch gate under random fault schedules, in the planner: for each seed a small burst on the
 * template's 2 slots, with a random share of holders stopped and random rates of every gate fault of
 * the one fault model (answers lost before or after the call took effect, duplicates, throttling,
 * missed status-change events). Whatever the schedule: at rest the gate
 * is empty; the tasks of running executions never exceed the slots (the one bounded exception: a
 * stopped execution's task keeps its vCPU while it stops, up to its stopTimeout, beside the task of
 * the waiter its slot went to); no slot stands free while someone waits longer than the reconciler's
 * period plus 10 s; every object not stopped succeeds.
 */

const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);
const SLOTS = 2;

let twoSlots: ReturnType<typeof loadSimulatedWorkflow>;
const results: SimulationResult[] = [];
beforeAll(async () => {
  twoSlots = loadSimulatedWorkflow(
    await synthesizedTemplate({ cpu: '512', memoryMiB: '1024', fargateVcpuQuota: '1' }),
  );
});

/**
 * A burst of 4 to 12 objects on the 2 slots, drawn from `draw`: its arrival window and each fault
 * kind's rate from the functions given (each called in its turn, so a seed draws the same burst).
 */
function randomBurst(
  seed: number,
  draw: () => number,
  drawn: { arrivalSeconds: () => number; rate: () => number },
): Promise<SimulationResult> {
  return simulate({
    ...twoSlots,
    seed,
    objects: 4 + Math.floor(draw() * 9),
    arrivalSeconds: drawn.arrivalSeconds(),
    // room for 2 more tasks than the gate's slots: only the gate bounds them
    vcpuQuota: 2,
    spotVcpuQuota: 2,
    taskSeconds: 20 + Math.floor(draw() * 80),
    taskSpread: 0.5,
    stopRate: draw() * 0.4,
    gateFaults: GATE_FAULT_KINDS.map((kind): GateFault => ({ kind, amount: { rate: drawn.rate() } })),
  });
}

test.each(SEEDS)('seed %i: the gate holds under its fault schedule', async (seed) => {
  const draw = mulberry32(seed * 7919);
  const result = await randomBurst(seed, draw, {
    arrivalSeconds: () => Math.floor(draw() * 120),
    rate: () => Math.round(draw() * 15) / 100,
  });
  results.push(result);
  expect(result.slotsLostAtRest).toBe(0);
  // Every ending missed by the recorder was repaired by the records' sweep.
  expect(result.recordsOpenAtRest).toBe(0);
  expect(result.peakTasksOfRunningExecutions).toBeLessThanOrEqual(SLOTS);
  expect(result.peakRunningTasks).toBeLessThanOrEqual(SLOTS + result.peakStoppingTasks);
  expect(result.peakStoppingTasks).toBeLessThanOrEqual(result.stopped);
  expect(result.maxIdleSlotSecondsWhileWaiting).toBeLessThanOrEqual(reconcilerPeriodSeconds() + 10);
  expect(result.failed).toBe(0);
  expect(result.succeeded + result.stopped).toBe(result.objects);
});

/**
 * Beyond the rates the first property covers: 0.15 to 0.30 of each kind, where an attempt of a gate
 * call fails with odds 0.39 to 0.66 and a call fails every attempt now and then. What still holds
 * (docs/launch-gate.md, "What the gate promises"): the gate at rest, never more tasks than slots, and
 * every object not stopped succeeded or failed because its claim or its wait in line failed every
 * attempt (with that call's error). No slot stands free while someone waits longer than two reconciler
 * periods plus 10 s, and longer than one period plus 10 s in few bursts: before the release's and the
 * reconciler's calls retried within 2 s, a cleanup whose leave of the line failed skipped its
 * release, and the reconciler checked a waiter before granting it, 6% of such bursts did.
 */
const HIGH_RATE_SEEDS = Array.from({ length: 150 }, (_, i) => 1000 + i);
const highRate: SimulationResult[] = [];
test.each(HIGH_RATE_SEEDS)('seed %i at rates of 0.15 to 0.30: the gate holds', async (seed) => {
  const draw = mulberry32(seed * 104729);
  const result = await randomBurst(seed, draw, {
    arrivalSeconds: () => (seed % 2 ? 0 : Math.floor(draw() * 240)),
    rate: () => Math.round((0.15 + draw() * 0.15) * 100) / 100,
  });
  highRate.push(result);
  expect(result.slotsLostAtRest).toBe(0);
  // Every ending missed by the recorder was repaired by the records' sweep.
  expect(result.recordsOpenAtRest).toBe(0);
  expect(result.peakTasksOfRunningExecutions).toBeLessThanOrEqual(SLOTS);
  expect(result.peakRunningTasks).toBeLessThanOrEqual(SLOTS + result.peakStoppingTasks);
  expect(result.maxIdleSlotSecondsWhileWaiting).toBeLessThanOrEqual(2 * reconcilerPeriodSeconds() + 10);
  // A claim or a wait in line that failed every attempt fails its object with that call's error.
  for (const error of Object.keys(result.failedWith)) {
    expect(GAVE_UP_ERRORS).toContain(error);
  }
  expect(result.succeeded + result.stopped + result.failed).toBe(result.objects);
});

/** What a claim or a wait in line gives up with: the gate faults' errors on DynamoDB. */
const GAVE_UP_ERRORS = [
  'DynamoDb.ProvisionedThroughputExceededException',
  'DynamoDb.InternalServerErrorException',
];

test('at rates of 0.15 to 0.30, a slot stood free longer than one reconciler period plus 10 s in few bursts', () => {
  expect(highRate).toHaveLength(HIGH_RATE_SEEDS.length);
  const over = highRate.filter((r) => r.maxIdleSlotSecondsWhileWaiting > reconcilerPeriodSeconds() + 10);
  // Before the fixes 8 of these 150 did (the longest 148 s); now none does. A sweep of 400 other
  // bursts at these rates finds 5 (1.25%): the bound leaves room for a reshuffled schedule, not for 6%.
  expect(over.length).toBeLessThanOrEqual(4);
  // the schedules were harsh: objects failed for their claims or waits, holders were stopped
  expect(highRate.reduce((sum, r) => sum + r.failed, 0)).toBeGreaterThan(0);
  expect(highRate.reduce((sum, r) => sum + r.stopped, 0)).toBeGreaterThan(10);
});

/** The reconciler's period, from its schedule in the template (rate(1 minute)). */
function reconcilerPeriodSeconds(): number {
  const schedule = twoSlots.housekeeping?.schedules.find((s) =>
    s.target.arn.includes(':LaunchGateReconciler'),
  );
  return schedule!.rate.intervalMs / 1000;
}

test('the reconciler runs every minute (and the object records sweep every 15)', () => {
  expect(
    twoSlots.housekeeping?.schedules.map((s) => [s.logicalId.replace(/[0-9A-F]{8}$/, ''), s.rate.intervalMs]),
  ).toEqual([
    ['LaunchGateReconcilerSchedule', 60_000],
    ['ObjectRecordSweepSchedule', 900_000],
  ]);
  expect(reconcilerPeriodSeconds()).toBe(60);
});

test('the schedules did inject faults: the properties were tested under them', () => {
  expect(results).toHaveLength(SEEDS.length);
  const total = (pick: (r: SimulationResult) => number) => results.reduce((sum, r) => sum + pick(r), 0);
  expect(total((r) => r.stopped)).toBeGreaterThan(10);
  expect(total((r) => r.peakStoppingTasks)).toBeGreaterThan(0);
  for (const kind of GATE_FAULT_KINDS) expect(total((r) => r.gateFaultsInjected[kind])).toBeGreaterThan(0);
  // the reconciler had to repair what the faults left, so the properties rest on it too
  expect(total((r) => r.repairs.Repairs ?? 0)).toBeGreaterThan(0);
});
