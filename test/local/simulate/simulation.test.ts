import { choose, runPass } from '../../../local/simulate/asl';
import { loadSimulatedWorkflow, simulateTemplate } from '../../../local/simulate/planner';
import { PRICES } from '../../../local/simulate/prices';
import { simulate, type SimulationOptions } from '../../../local/simulate/simulation';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { synthesizedTemplate } from '../support/synthesized-template';

/** The capacity planner: the synthesized workflow against the quota model, in virtual time. */

let templatePath: string;
let workflow: ReturnType<typeof loadSimulatedWorkflow>;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  workflow = loadSimulatedWorkflow(templatePath);
});

/** States an object passes through when its task succeeds at once: StartAt, then each Next. */
function successPathLength(definition: StateMachineDefinition): number {
  let length = 0;
  for (
    let name: unknown = definition.StartAt;
    typeof name === 'string';
    name = definition.States[name].Next
  ) {
    length++;
  }
  return length;
}

/** 8 objects at once, 2 slots (0.5 vCPU of 0.25-vCPU tasks), every task exactly 60 s. */
const BY_HAND = {
  objects: 8,
  arrivalSeconds: 0,
  vcpuQuota: 0.5,
  spotVcpuQuota: 0.5,
  taskSeconds: 60,
  taskSpread: 0,
  seed: 7,
} satisfies Partial<SimulationOptions>;

test('reads the workflow the rule starts from the template, with its own Retry and Catch', () => {
  const run = workflow.definition.States.RunWorker;
  expect(run.Retry).toEqual([
    expect.objectContaining({
      ErrorEquals: ['ECS.AmazonECSException', 'AmazonECS.Unknown'],
      MaxDelaySeconds: 3000,
    }),
    expect.objectContaining({ ErrorEquals: ['ECS.InvalidParameterException'] }),
  ]);
  expect(workflow.taskDefinitions.map((t) => [t.cpu, t.memory])).toEqual([['256', '512']]);
  expect(workflow.architecture).toBe('ARM64');
});

test('8 objects, 2 slots, 60-second tasks, retried every 60 s without jitter: worked out by hand', () => {
  // GIVEN the template's workflow with its capacity retrier made deterministic: every 60 s, no jitter
  const definition = structuredClone(workflow.definition) as StateMachineDefinition;
  const [capacity] = definition.States.RunWorker.Retry as Array<Record<string, unknown>>;
  Object.assign(capacity, { IntervalSeconds: 60, BackoffRate: 1, JitterStrategy: 'NONE' });
  const result = simulate({ ...BY_HAND, ...workflow, definition });
  // THEN two tasks start at 0, 60, 120 and 180 s: the last result is at 240 s, the best 2 slots allow
  expect(result).toMatchObject({
    objects: 8,
    succeeded: 8,
    failed: 0,
    makespanSeconds: 240,
    lowerBoundSeconds: 240,
    peakRunningTasks: 2,
    // waits 0, 0, 60, 60, 120, 120, 180, 180
    p50WaitSeconds: 60,
    p99WaitSeconds: 180,
    // launch attempts 1, 1, 2, 2, 3, 3, 4, 4; all in the first 10-second windows at 0, 60, 120, 180 s
    meanLaunchAttempts: 2.5,
    maxLaunchAttempts: 4,
    peakRunTaskCallsPerSecond: 0.8,
  });
  // every state on the success path once per execution, plus one transition per retry (12)
  expect(result.stateTransitions).toBe(8 * successPathLength(definition) + 12);
  // 8 tasks of 0.25 vCPU and 0.5 GB for 60 s, each with a public IPv4, and the transitions
  const fargate = 8 * (0.25 * PRICES.fargateVcpuHour.ARM64 + 0.5 * PRICES.fargateGbHour.ARM64) * (60 / 3600);
  const ipv4 = 8 * PRICES.publicIpv4Hour * (60 / 3600);
  expect(result.costUsd).toBeCloseTo(fargate + ipv4 + result.stateTransitions * PRICES.stateTransition, 4);
  expect(result.waitCostUsd).toBeCloseTo(12 * PRICES.stateTransition, 4);
});

test('the same by-hand case with the deployed backoff (full jitter): the same bounds hold, and the seed replays it', () => {
  const result = simulate({ ...BY_HAND, ...workflow });
  expect(result).toMatchObject({ succeeded: 8, failed: 0, lowerBoundSeconds: 240, peakRunningTasks: 2 });
  expect(result.makespanSeconds).toBeGreaterThanOrEqual(240);
  expect(result.meanLaunchAttempts).toBeGreaterThan(1);
  const retries = Math.round(result.meanLaunchAttempts * 8) - 8;
  expect(result.stateTransitions).toBe(8 * successPathLength(workflow.definition) + retries);
  expect(simulate({ ...BY_HAND, ...workflow })).toEqual({ ...result, wallSeconds: expect.any(Number) });
  expect(simulate({ ...BY_HAND, ...workflow, seed: 8 }).makespanSeconds).not.toBe(result.makespanSeconds);
});

test('a launch that waits past capacityWaitMinutes fails the object as the workflow says', async () => {
  // GIVEN -c capacityWaitMinutes=1 (5 retries, ~80 s on average) and 200 objects at once on 2 slots
  const shortWait = await synthesizedTemplate({ capacityWaitMinutes: '1' });
  const result = simulateTemplate({ ...BY_HAND, objects: 200, templatePath: shortWait });
  // THEN the first ones run, most give up
  expect(result.succeeded).toBeGreaterThanOrEqual(2);
  expect(result.failed).toBeGreaterThan(150);
  expect(result.maxLaunchAttempts).toBe(6);
});

test("spot-with-fallback: Spot fills first, the rest falls back to on-demand after Spot's wait", async () => {
  const fallback = await synthesizedTemplate({ capacity: 'spot-with-fallback' });
  const result = simulateTemplate({ ...BY_HAND, objects: 40, templatePath: fallback });
  expect(result).toMatchObject({ succeeded: 40, failed: 0, peakRunningTasks: 4 });
  // both quotas' slots count: 40 × 60 s over 4 slots
  expect(result.lowerBoundSeconds).toBe(600);
});

test('a workflow the simulator cannot model is refused, naming the state', () => {
  const definition = {
    StartAt: 'Each',
    States: { Each: { Type: 'Map', End: true } },
  } as unknown as StateMachineDefinition;
  expect(() => simulate({ ...BY_HAND, ...workflow, definition })).toThrow(
    /^State "Each": a Map state is not modelled by the simulator/,
  );
});

test("the template's relaunch Choice and counter, evaluated as Step Functions does", () => {
  const { States } = workflow.definition;
  const failedToStart = {
    Error: 'States.TaskFailed',
    Cause: '{"StopCode":"TaskFailedToStart","TaskArn":"t"}',
  };
  const exited = { Error: 'States.TaskFailed', Cause: '{"StopCode":"EssentialContainerExited"}' };
  expect(choose(States.WasTaskStarted, { error: failedToStart })).toBe('CountFirstRelaunch');
  expect(choose(States.WasTaskStarted, { error: failedToStart, relaunches: { count: 1 } })).toBe(
    'CountRelaunch',
  );
  expect(choose(States.WasTaskStarted, { error: failedToStart, relaunches: { count: 2 } })).toBe(
    'ObjectFailed',
  );
  expect(choose(States.WasTaskStarted, { error: exited })).toBe('ObjectFailed');
  expect(runPass(States.CountFirstRelaunch, { key: 'k' })).toEqual({ key: 'k', relaunches: { count: 1 } });
  expect(runPass(States.CountRelaunch, { key: 'k', relaunches: { count: 1 } })).toEqual({
    key: 'k',
    relaunches: { count: 2 },
  });
});
