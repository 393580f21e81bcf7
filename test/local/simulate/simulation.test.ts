import { RealClock } from '../../../local/clock';
import { loadSimulatedWorkflow, simulateTemplate } from '../../../local/simulate/planner';
import { PRICES } from '../../../local/simulate/prices';
import {
  simulate,
  type SimulationOptions,
  type SimulationResult,
  waitingPathStates,
} from '../../../local/simulate/simulation';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { synthesizedTemplate } from '../support/synthesized-template';

/** The capacity planner: the synthesized workflow, launch gate included, against the quota model, in virtual time. */

/** Two launch slots: tasks of 0.5 vCPU in a 1-vCPU quota. */
const TWO_SLOTS = { cpu: '512', memoryMiB: '1024', fargateVcpuQuota: '1' };

let workflow: ReturnType<typeof loadSimulatedWorkflow>;
let twoSlots: ReturnType<typeof loadSimulatedWorkflow>;
beforeAll(async () => {
  workflow = loadSimulatedWorkflow(await synthesizedTemplate());
  twoSlots = loadSimulatedWorkflow(await synthesizedTemplate(TWO_SLOTS));
});

/** The gate's count when the last execution ended. */
function finalDemand(result: SimulationResult): string | undefined {
  const [gate] = result.finalItems;
  return (gate?.item.demand as { N: string } | undefined)?.N;
}

/** 8 objects at once on 2 slots, every task exactly 60 s. */
const BY_HAND = {
  objects: 8,
  arrivalSeconds: 0,
  vcpuQuota: 1,
  spotVcpuQuota: 1,
  taskSeconds: 60,
  taskSpread: 0,
  seed: 7,
} satisfies Partial<SimulationOptions>;

test('reads the workflow the rule starts from the template: the gate, its queue, and the Retry and Catch', () => {
  const { States } = workflow.definition;
  expect(States.RunWorker.Retry).toEqual([
    expect.objectContaining({
      ErrorEquals: ['ECS.AmazonECSException', 'AmazonECS.Unknown'],
      MaxDelaySeconds: 300,
    }),
    expect.objectContaining({ ErrorEquals: ['ECS.InvalidParameterException'] }),
  ]);
  expect(workflow.definition.StartAt).toBe('ClaimLaunchSlot');
  expect(States.HasLaunchSlot.Choices).toEqual([expect.objectContaining({ NumericLessThanEquals: 24 })]);
  expect(States.IsAnyoneWaiting.Choices).toEqual([expect.objectContaining({ NumericGreaterThanEquals: 24 })]);
  const line = String((States.WaitForLaunchSlot.Parameters as Record<string, unknown>).QueueUrl);
  expect(workflow.queueSettings?.find((queue) => queue.url === line)).toEqual({
    url: line,
    visibilityTimeoutSeconds: 900,
    receiveWaitTimeSeconds: 0,
  });
  expect(workflow.taskDefinitions.map((t) => [t.cpu, t.memory])).toEqual([['256', '512']]);
  expect(workflow.architecture).toBe('ARM64');
});

test('the waiting path, found from the definition: what only the line or a poll of it leads to', () => {
  expect([...waitingPathStates(workflow.definition)].sort()).toEqual([
    'DeleteHandedOnMessage',
    'DeleteStaleMessage',
    'FindWaitingExecution',
    'HandOnLaunchSlot',
    'WaitForLaunchSlot',
    'WasExecutionWaiting',
  ]);
});

test('8 objects, 2 slots, 60-second tasks: worked out by hand', async () => {
  const result = await simulate({ ...BY_HAND, ...twoSlots });
  // THEN two tasks start at 0, 60, 120 and 180 s, each pair handed its slots by the pair before
  expect(result).toMatchObject({
    objects: 8,
    succeeded: 8,
    failed: 0,
    makespanSeconds: 240,
    lowerBoundSeconds: 240,
    fcfsMakespanSeconds: 240,
    peakRunningTasks: 2,
    peakWaitingExecutions: 6,
    refusedTaskTokens: 0,
    // waits 0, 0, 60, 60, 120, 120, 180, 180
    p50WaitSeconds: 60,
    p99WaitSeconds: 180,
    // every object launched once: 2 calls in each of the 10-second windows at 0, 60, 120 and 180 s
    meanLaunchAttempts: 1,
    maxLaunchAttempts: 1,
    peakRunTaskCallsPerSecond: 0.2,
    // a claim and a release each; 6 waiters' messages sent, received and deleted
    dynamodbWriteRequests: 16,
    sqsRequests: 18,
    messagesLeft: 0,
  });
  expect(finalDemand(result)).toBe('0');
  // 8 states each (claim, choice, task, name, release, choice, choice, succeed); each waiter 1 more
  // (WaitForLaunchSlot), each hand-on 4 (FindWaitingExecution, WasExecutionWaiting, HandOnLaunchSlot,
  // DeleteHandedOnMessage)
  expect(result.stateTransitions).toBe(8 * 8 + 6 + 6 * 4);
  // 8 tasks of 0.5 vCPU and 1 GB for 60 s, each with a public IPv4, the transitions and the requests
  const fargate = 8 * (0.5 * PRICES.fargateVcpuHour.ARM64 + 1 * PRICES.fargateGbHour.ARM64) * (60 / 3600);
  const ipv4 = 8 * PRICES.publicIpv4Hour * (60 / 3600);
  const requests = 16 * PRICES.dynamodbWriteRequestUnit + 18 * PRICES.sqsRequest;
  expect(result.costUsd).toBeCloseTo(fargate + ipv4 + 94 * PRICES.stateTransition + requests, 4);
  // the waiters' and hand-ons' 30 transitions and all 18 SQS requests; the counter's writes are not waiting
  expect(result.waitCostUsd).toBeCloseTo(30 * PRICES.stateTransition + 18 * PRICES.sqsRequest, 4);
});

test('one scenario, two clocks: the by-hand case on a real clock 600 times as fast ends as on the virtual one', async () => {
  const virtual = await simulate({ ...BY_HAND, ...twoSlots });
  const real = await simulate({ ...BY_HAND, ...twoSlots, clock: new RealClock(600) });
  const outcome = (result: SimulationResult) => ({
    succeeded: result.succeeded,
    stateTransitions: result.stateTransitions,
    meanLaunchAttempts: result.meanLaunchAttempts,
    peakRunningTasks: result.peakRunningTasks,
    peakWaitingExecutions: result.peakWaitingExecutions,
    dynamodbWriteRequests: result.dynamodbWriteRequests,
    sqsRequests: result.sqsRequests,
    messagesLeft: result.messagesLeft,
    demand: finalDemand(result),
  });
  expect(outcome(real)).toEqual(outcome(virtual));
  // Real time adds the machine's own delays (a millisecond is 0.6 s here), never removes any.
  expect(virtual.makespanSeconds).toBe(240);
  expect(real.makespanSeconds).toBeGreaterThanOrEqual(240);
});

test('a burst waits in line: every object launched exactly once, handed its slot, the count back to 0', async () => {
  const result = await simulate({ ...BY_HAND, ...workflow, objects: 200, vcpuQuota: 6, taskSpread: 0.3 });
  expect(result).toMatchObject({
    succeeded: 200,
    meanLaunchAttempts: 1,
    maxLaunchAttempts: 1,
    peakRunningTasks: 24,
    peakWaitingExecutions: 176,
    refusedTaskTokens: 0,
    messagesLeft: 0,
  });
  expect(result.stateTransitions).toBe(200 * 8 + 176 * 5);
  expect(finalDemand(result)).toBe('0');
  // the slots never idle: service calls take no time in the planner
  expect(result.makespanSeconds).toBeLessThanOrEqual(result.fcfsMakespanSeconds);
  expect(await simulate({ ...BY_HAND, ...workflow, objects: 200, vcpuQuota: 6, taskSpread: 0.3 })).toEqual({
    ...result,
    wallSeconds: expect.any(Number),
  });
});

test('waiters whose wait times out fail; their stale tokens are refused, their messages deleted and counted out', async () => {
  // GIVEN 2 slots, -c capacityWaitMinutes=1 (a 60-second wait), 100-second tasks and 8 objects over 70 s:
  // arrivals 0, 8.75, 17.5, 26.25, 35, 43.75, 52.5, 61.25 s
  const shortWait = loadSimulatedWorkflow(
    await synthesizedTemplate({ ...TWO_SLOTS, capacityWaitMinutes: '1' }),
  );
  expect(shortWait.definition.States.WaitForLaunchSlot.TimeoutSeconds).toBe(60);
  const result = await simulate({ ...BY_HAND, ...shortWait, arrivalSeconds: 70, taskSeconds: 100 });
  // THEN at 100 s the first releaser finds 3 stale messages (their waits ended at 77.5, 86.25, 95 s) and
  // hands its slot to the 6th object, the second hands its slot to the 7th at 108.75 s; the 8th's wait
  // ends at 121.25 s, before any slot frees again
  expect(result).toMatchObject({
    succeeded: 4,
    failed: 4,
    refusedTaskTokens: 4,
    messagesLeft: 0,
    meanLaunchAttempts: 0.5,
    maxLaunchAttempts: 1,
  });
  expect(finalDemand(result)).toBe('0');
  // the 4 that ran: 8 direct states each; the 4 that timed out: ClaimLaunchSlot, HasLaunchSlot and
  // ObjectFailed; 6 WaitForLaunchSlot; 2 hand-ons of 4; and for each stale token FindWaitingExecution,
  // WasExecutionWaiting, HandOnLaunchSlot, DeleteStaleMessage, ReleaseLaunchSlot and IsAnyoneWaiting
  expect(result.stateTransitions).toBe(4 * 8 + 4 * 3 + 6 + 2 * 4 + 4 * 6);
});

test('a quota below the gate (another workload holds vCPU): holders retry RunTask, the retries are waiting cost', async () => {
  // GIVEN the default gate of 24 slots in an account with 1 vCPU (4 slots) free
  const result = await simulate({ ...BY_HAND, ...workflow, objects: 40, vcpuQuota: 1 });
  expect(result).toMatchObject({ succeeded: 40, failed: 0, peakRunningTasks: 4, lowerBoundSeconds: 600 });
  // 16 wait in line for the gate; the rest is RunWorker's retries, one transition each
  const retries = result.stateTransitions - (40 * 8 + 16 * 5);
  expect(retries).toBeGreaterThan(0);
  // (meanLaunchAttempts is rounded to one decimal)
  expect(result.meanLaunchAttempts).toBeCloseTo((40 + retries) / 40, 1);
  const waiting = (16 * 5 + retries) * PRICES.stateTransition + 16 * 3 * PRICES.sqsRequest;
  expect(result.waitCostUsd).toBeCloseTo(waiting, 4);
  expect(
    (await simulate({ ...BY_HAND, ...workflow, objects: 40, vcpuQuota: 1, seed: 8 })).makespanSeconds,
  ).not.toBe(result.makespanSeconds);
});

test("spot-with-fallback: Spot fills first, the rest falls back to on-demand after Spot's wait", async () => {
  const fallback = await synthesizedTemplate({ capacity: 'spot-with-fallback' });
  const result = await simulateTemplate({
    ...BY_HAND,
    vcpuQuota: 0.5,
    spotVcpuQuota: 0.5,
    objects: 40,
    templatePath: fallback,
  });
  expect(result).toMatchObject({ succeeded: 40, failed: 0, peakRunningTasks: 4 });
  // both quotas' slots count: 40 × 60 s over 4 slots
  expect(result.lowerBoundSeconds).toBe(600);
  expect(finalDemand(result)).toBe('0');
});

describe('a workflow the planner cannot model (or the engine cannot run) is refused before it runs, naming the state', () => {
  const withState = (state: Record<string, unknown>) =>
    ({ StartAt: 'Only', States: { Only: { End: true, ...state } } }) as unknown as StateMachineDefinition;

  test.each([
    [{ Type: 'Map' }, /state "Only" has no ItemProcessor/],
    [
      { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke' },
      /^State "Only": Task resource arn:aws:states:::lambda:invoke is not modelled/,
    ],
    [
      {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:updateItem',
        Parameters: { TableName: 't', Key: {}, UpdateExpression: 'SET demand = :v' },
      },
      /^State "Only": the UpdateExpression "SET demand = :v" \(only a literal "ADD <attribute> :value, \.\.\." on numbers is\)/,
    ],
    [
      {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:updateItem',
        Parameters: {
          UpdateExpression: 'ADD demand :change',
          ExpressionAttributeValues: { ':change': { N: '1' } },
          ReturnValues: 'ALL_OLD',
        },
      },
      /^State "Only": ReturnValues "ALL_OLD" \(only UPDATED_NEW and NONE are\)/,
    ],
    [
      {
        Type: 'Task',
        Resource: 'arn:aws:states:::dynamodb:updateItem',
        Parameters: { UpdateExpression: 'ADD demand :change', ConditionExpression: 'demand < :max' },
      },
      /^State "Only": the dynamodb:updateItem parameter ConditionExpression/,
    ],
  ])('%j', async (state, message) => {
    await expect(simulate({ ...BY_HAND, ...workflow, definition: withState(state) })).rejects.toThrow(
      message,
    );
  });
});
