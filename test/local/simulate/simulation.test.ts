import { AutoClock, RealClock } from '../../../local/clock';
import { loadSimulatedWorkflow, simulateTemplate } from '../../../local/simulate/planner';
import { PRICES } from '../../../local/simulate/prices';
import {
  simulate,
  type SimulationOptions,
  type SimulationResult,
  waitingPathStates,
} from '../../../local/simulate/simulation';
import { ruleMatches } from '../../../local/stepfunctions/asl/choice-rules';
import { applyResultPath, fillPayload, type Json } from '../../../local/stepfunctions/asl/paths';
import type { AslState, StateMachineDefinition } from '../../../local/stepfunctions/definitions';
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

/** States an object passes through when it gets a slot at once and its task succeeds: StartAt, then each Next or Choice taken. */
function directPathLength(definition: StateMachineDefinition, input: Record<string, unknown>): number {
  let length = 0;
  for (let name: unknown = definition.StartAt; typeof name === 'string'; length++) {
    const state = definition.States[name];
    name = state.Type === 'Choice' ? choose(state, input as never) : state.Next;
  }
  return length;
}

/** The launch gate when the last execution ended: who holds a slot, who waits (lib/launch-gate.ts). */
function gateAtRest(result: SimulationResult): { holders: number; waiters: number } {
  const items = result.finalItems.map(({ item }) => item as Record<string, { S?: string; SS?: string[] }>);
  // the gate's items are the ones keyed by pk (the records are keyed by bucket)
  const slots = items.find((item) => item.pk?.S === 'slots');
  return {
    holders: slots?.holders?.SS?.length ?? 0,
    waiters: items.filter((item) => item.pk?.S === 'waiters').length,
  };
}
const EMPTY = { holders: 0, waiters: 0 };

/** The state a Choice goes to for `input`, by the engine's rules. */
function choose(state: AslState, input: Json): string {
  const rules = (state.Choices ?? []) as Array<Record<string, Json>>;
  const rule = rules.find((candidate) => ruleMatches(candidate, input, {}));
  return String(rule ? rule.Next : state.Default);
}

/** A Pass state's output for `input` (its Parameters or Result, at its ResultPath). */
function runPass(state: AslState, input: Json): Json {
  const result =
    state.Parameters === undefined
      ? (state.Result as Json)
      : fillPayload(state.Parameters as Json, input, {});
  return applyResultPath(input, state.ResultPath as string | undefined, result);
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

test('reads the workflow the rule starts from the template: the gate, its table, and the Retry and Catch', () => {
  const { States } = workflow.definition;
  expect(States.RunWorker.Retry).toEqual([
    expect.objectContaining({
      ErrorEquals: ['ECS.AmazonECSException', 'AmazonECS.Unknown'],
      MaxDelaySeconds: 300,
    }),
    expect.objectContaining({ ErrorEquals: ['ECS.InvalidParameterException'] }),
  ]);
  // the object's record first: a duplicate event ends there, before it claims a slot
  expect(workflow.definition.StartAt).toBe('RecordObject');
  expect(States.RecordObject.Catch).toContainEqual(
    expect.objectContaining({
      ErrorEquals: ['DynamoDb.ConditionalCheckFailedException'],
      Next: 'FindObjectHolder',
    }),
  );
  const table = String((States.ClaimLaunchSlot.Parameters as Record<string, unknown>).TableName);
  expect(workflow.tableSchemas?.[table]).toEqual({
    hashKey: 'pk',
    rangeKey: 'sk',
    indexes: { ByArrival: { hashKey: 'pk', rangeKey: 'arrivedAt' } },
  });
  // the records' table with its indexes of failures and of open records (the sweep's)
  const records = String((States.RecordObject.Arguments as Record<string, unknown>).TableName);
  expect(workflow.tableSchemas?.[records]).toEqual({
    hashKey: 'bucket',
    rangeKey: 'objectVersion',
    indexes: {
      ByFailure: { hashKey: 'bucket', rangeKey: 'failedAt' },
      ByOpen: { hashKey: 'bucket', rangeKey: 'openSince', nonKeyAttributes: ['executionArn'] },
    },
  });
  expect(workflow.taskDefinitions.map((t) => [t.cpu, t.memory])).toEqual([['256', '512']]);
  expect(workflow.architecture).toBe('ARM64');
});

test('the waiting path, found from the definition: what only the wait or a hand-on leads to', () => {
  expect([...waitingPathStates(workflow.definition)].sort()).toEqual([
    'CountHandOnRound',
    'GrantLaunchSlot',
    'HandOnLaunchSlot',
    'HandOnLaunchSlotAgain',
    'IsHandOnRoundLeft',
    'LeaveLaunchLine',
    'RemoveStaleWaiter',
    'RemoveWokenWaiter',
    'WaitForLaunchSlot',
  ]);
});

test('8 objects, 2 slots, 60-second tasks: worked out by hand', async () => {
  const result = await simulate({ ...BY_HAND, ...twoSlots });
  // THEN two tasks start at 0, 60, 120 and 180 s, each pair woken by the pair before
  expect(result).toMatchObject({
    objects: 8,
    succeeded: 8,
    failed: 0,
    makespanSeconds: 240,
    lowerBoundSeconds: 240,
    fcfsMakespanSeconds: 240,
    peakRunningTasks: 2,
    peakWaitingExecutions: 6,
    // work resumed at an instant runs before the next wake-up of that instant (AutoClock): at 60, 120
    // and 180 s the first releaser's hand-on is done before the second reads the line, so no wake-up
    // finds its token answered (on a real clock they race: see the next test)
    refusedTaskTokens: 0,
    // waits 0, 0, 60, 60, 120, 120, 180, 180
    p50WaitSeconds: 60,
    p99WaitSeconds: 180,
    meanLaunchAttempts: 1,
    maxLaunchAttempts: 1,
    peakRunTaskCallsPerSecond: 0.2,
    // the gate: 8 claims (6 refused), 6 waiter items, 8 releases, 6 grants, 6 waiter items deleted, 8
    // queries of the line; the reconciler (its phase drawn from seed 7 puts its runs between the task
    // ends, at 5 moments up to 240 s and one after): each run writes the limit and queries the line,
    // and reads each waiter's item again, then tries to grant it a slot, refused while both are held
    // (6 waiters at its first run, 4, 2, then none): 5 writes, 12 reads and 12 refused grants, 5
    // queries. The records: 8 puts, 8 RUNNING,
    // 6 WAITING_FOR_CAPACITY, and the recorder's 8 endings; the sweep's one run (at the same phase,
    // then every 15 minutes) queries the open records, none old enough
    dynamodbWriteRequests: 34 + 5 + 12 + (8 + 8 + 6 + 8),
    // the indexes: each waiter item in and out of the gate's ByArrival (6 + 6); each record into the
    // sweep's ByOpen when put and out of it when its ending removes openSince (8 + 8); a status
    // write changes nothing ByOpen projects, no record failed (ByFailure), a refused write writes none
    dynamodbIndexWriteRequests: 6 + 6 + (8 + 8),
    dynamodbReadRequests: 8 + 5 + 12 + 1,
    sqsRequests: 0,
    // the recorder's result event of each object
    eventsPut: 8,
    // the recorder on each ending (the gate's cleanup rule matches none of these endings); the
    // reconciler's 5 runs and the sweep's 1
    housekeepingRuns: { byRules: 8, bySchedules: 5 + 1 },
    repairs: {},
    stopped: 0,
    slotsLostAtRest: 0,
    maxIdleSlotSecondsWhileWaiting: 0,
  });
  expect(gateAtRest(result)).toEqual(EMPTY);
  // 8 states each (record, claim, running, task, release, find, choice, succeed: the line's
  // choice decides the outcome when no one waits); each waiter 2 more (its record, its wait), each
  // hand-on 4 (grant, wake, delete, the outcome's choice), each second look 7 (delete the stale
  // item, count, choice, find, choice, grant, wake)
  const task = { CreatedAt: 0, StartedAt: 0, StoppedAt: 60_000 };
  expect(directPathLength(twoSlots.definition, { task, launchSlot: { line: {} } })).toBe(8);
  expect(result.stateTransitions).toBe(8 * 8 + 6 * 2 + 6 * 4);
  // 8 tasks of 0.5 vCPU and 1 GB for 60 s, each with a public IPv4, the transitions and the requests
  const fargate = 8 * (0.5 * PRICES.fargateVcpuHour.ARM64 + 1 * PRICES.fargateGbHour.ARM64) * (60 / 3600);
  const ipv4 = 8 * PRICES.publicIpv4Hour * (60 / 3600);
  const requests = (81 + 28) * PRICES.dynamodbWriteRequestUnit + 14 * PRICES.dynamodbReadRequestUnit;
  // 14 Express runs (the reconciler's 5, the recorder's 8, the sweep's 1), each a request and 100 ms
  // at 64 MB (service calls take no time here); the 8 result events
  const express = 14 * (PRICES.expressRequest + 0.1 * PRICES.expressGbSecond * (64 / 1024));
  const events = 8 * PRICES.eventBridgeEvent;
  expect(result.costUsd).toBeCloseTo(
    fargate + ipv4 + 100 * PRICES.stateTransition + requests + express + events,
    4,
  );
  // the waits and hand-ons: 6 + 18 transitions, and their requests (6 puts, 6 grants, 6 deletes); not
  // the records' WAITING_FOR_CAPACITY nor the outcome's choice after a hand-on, which the definition
  // also reaches without anyone waiting
  expect(result.waitCostUsd).toBeCloseTo(
    24 * PRICES.stateTransition + 18 * PRICES.dynamodbWriteRequestUnit,
    4,
  );
  // each object's record: SUCCEEDED, its durations from the task's times. Each release's ticket picks
  // its waiter among those in line (HAND_ON_CHOICES): at 60 s tickets 1 and 2 take the 2nd of 6 and
  // the 3rd of the 5 left (objects 3 and 5), at 120 s the 4th of 4 and the 2nd of 3 (7 and 4), at
  // 180 s the 2nd of 2 and the last (6 and 2)
  const records = result.finalItems
    .filter(({ tableName }) => tableName !== twoSlots.gateTableName)
    .map(({ item }) => item as Record<string, { S?: string; N?: string }>)
    .sort((a, b) => String(a.objectKey.S).localeCompare(String(b.objectKey.S)));
  expect(records.map((r) => [r.objectKey.S, r.status.S, r.waitingMs.N, r.launchMs.N, r.runMs.N])).toEqual(
    [0, 0, 180, 60, 120, 60, 180, 120].map((wait, i) => [
      `incoming/object-${i}`,
      'SUCCEEDED',
      String(wait * 1000),
      '0',
      '60000',
    ]),
  );
  // closed: out of the sweep's index of open records
  expect(records.filter((r) => r.openSince !== undefined)).toEqual([]);
});

test('one scenario, two clocks: the by-hand case on a real clock 100 times as fast ends as on the virtual one', async () => {
  // The workflow alone: on a real clock the reconciler's runs fall at other moments, and one that runs
  // while a releaser is between its release and its grant (a millisecond is 0.1 s here) wakes the
  // waiter itself, a repair that changes the releaser's path.
  const workflowAlone = { ...BY_HAND, ...twoSlots, housekeeping: undefined };
  const virtual = await simulate(workflowAlone);
  // 100 times as fast: 2.4 s of wall time. The machine's delays are pipeline time too: at 600 one run
  // under load (at a load of 11) ended with one write and one transition more; at 200 one CI run under
  // load ended with 2 objects that never waited in line (6 transitions, 2 writes and 1 read fewer
  // each). Event-loop stalls of 0.4 s injected at 9 points of the start did not bring that back, so its
  // cause is not known; at 100 any delay is half as much pipeline time.
  const real = await simulate({ ...workflowAlone, clock: new RealClock(100) });
  // Real time lets the two releasers of an instant read the line at once: their tickets pick different
  // waiters. A wake-up that still found its token answered would cost a second look (7 transitions:
  // delete the stale item, count, choice, find, choice, grant, wake; 2 writes and 1 read). With those
  // taken out, the runs are the same.
  const outcome = (result: SimulationResult) => ({
    succeeded: result.succeeded,
    stateTransitions: result.stateTransitions - 7 * result.refusedTaskTokens,
    meanLaunchAttempts: result.meanLaunchAttempts,
    peakRunningTasks: result.peakRunningTasks,
    peakWaitingExecutions: result.peakWaitingExecutions,
    dynamodbWriteRequests: result.dynamodbWriteRequests - 2 * result.refusedTaskTokens,
    dynamodbReadRequests: result.dynamodbReadRequests - result.refusedTaskTokens,
    gate: gateAtRest(result),
  });
  expect(outcome(real)).toEqual(outcome(virtual));
  // Real time adds the machine's own delays (a millisecond is 0.1 s here), never removes any.
  expect(virtual.makespanSeconds).toBe(240);
  expect(real.makespanSeconds).toBeGreaterThanOrEqual(240);
});

test('a burst waits in line: every object launched exactly once, woken into a slot, the gate empty at rest', async () => {
  const result = await simulate({ ...BY_HAND, ...workflow, objects: 200, vcpuQuota: 6, taskSpread: 0.3 });
  expect(result).toMatchObject({
    succeeded: 200,
    meanLaunchAttempts: 1,
    maxLaunchAttempts: 1,
    peakRunningTasks: 24,
    peakWaitingExecutions: 176,
  });
  expect(result.stateTransitions).toBe(200 * 8 + 176 * (2 + 4) + result.refusedTaskTokens * 7);
  expect(gateAtRest(result)).toEqual(EMPTY);
  // the slots never idle: service calls take no time in the planner
  expect(result.makespanSeconds).toBeLessThanOrEqual(result.fcfsMakespanSeconds);
  expect(await simulate({ ...BY_HAND, ...workflow, objects: 200, vcpuQuota: 6, taskSpread: 0.3 })).toEqual({
    ...result,
    wallSeconds: expect.any(Number),
  });
});

test('waiters whose wait times out leave the line and fail; the gate ends empty', async () => {
  // GIVEN 2 slots, -c capacityWaitMinutes=1 (a 60-second wait), 100-second tasks and 8 objects over 70 s:
  // arrivals 0, 8.75, 17.5, 26.25, 35, 43.75, 52.5, 61.25 s
  const shortWait = loadSimulatedWorkflow(
    await synthesizedTemplate({ ...TWO_SLOTS, capacityWaitMinutes: '1' }),
  );
  expect(shortWait.definition.States.WaitForLaunchSlot.TimeoutSeconds).toBe(60);
  const result = await simulate({ ...BY_HAND, ...shortWait, arrivalSeconds: 70, taskSeconds: 100 });
  // THEN the 3rd, 4th and 5th objects' waits end at 77.5, 86.25 and 95 s, before any slot frees: they
  // leave the line (releases 1 to 3). At 100 s the 4th release's ticket picks the 2nd of the 3 in line
  // (4 mod 3): the 7th; the 6th's wait ends at 103.75 s (the 5th release), and at 108.75 s the 6th
  // release wakes the 8th. The line is served in arrival order only roughly (HAND_ON_CHOICES).
  expect(result).toMatchObject({
    succeeded: 4,
    failed: 4,
    refusedTaskTokens: 0,
    meanLaunchAttempts: 0.5,
    maxLaunchAttempts: 1,
  });
  expect(gateAtRest(result)).toEqual(EMPTY);
  // the 4 that ran: 8 direct states each, 2 of them woken (a record and a wait, a hand-on of 4); the
  // 4 that timed out: record, claim, record, wait, then LeaveLaunchLine, the release (release, find,
  // choice) and the outcome (WasObjectProcessed, ObjectFailed); each of them finds others still in
  // line, and its grant is refused (every slot is taken)
  expect(result.stateTransitions).toBe(4 * 8 + 2 * (2 + 4) + 4 * 10 + 4);
  // each ending recorded, the 4 failures with their error
  const statuses = result.finalItems
    .filter(({ tableName }) => tableName !== shortWait.gateTableName)
    .map(({ item }) => [(item.status as { S: string }).S, (item.error as { S: string } | undefined)?.S]);
  expect(statuses.sort()).toEqual([
    ['FAILED', 'States.Timeout'],
    ['FAILED', 'States.Timeout'],
    ['FAILED', 'States.Timeout'],
    ['FAILED', 'States.Timeout'],
    ['SUCCEEDED', undefined],
    ['SUCCEEDED', undefined],
    ['SUCCEEDED', undefined],
    ['SUCCEEDED', undefined],
  ]);
});

test('a quota below the gate (another workload holds vCPU): holders retry RunTask, the retries are waiting cost', async () => {
  // GIVEN the default gate of 24 slots in an account with 1 vCPU (4 slots) free
  const result = await simulate({ ...BY_HAND, ...workflow, objects: 40, vcpuQuota: 1 });
  expect(result).toMatchObject({ succeeded: 40, failed: 0, peakRunningTasks: 4, lowerBoundSeconds: 600 });
  // 16 wait in line for the gate; the rest is RunWorker's retries, one transition each
  const retries = result.stateTransitions - (40 * 8 + 16 * (2 + 4) + result.refusedTaskTokens * 7);
  expect(retries).toBeGreaterThan(0);
  // (meanLaunchAttempts is rounded to one decimal)
  expect(result.meanLaunchAttempts).toBeCloseTo((40 + retries) / 40, 1);
  expect(gateAtRest(result)).toEqual(EMPTY);
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
  expect(gateAtRest(result)).toEqual(EMPTY);
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
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
        Parameters: { TableName: 't', Key: {}, UpdateExpression: 'SET demand = :v' },
      },
      /^State "Only": an expression DynamoDB refuses \(.*:v/,
    ],
    [
      {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
        Parameters: {
          TableName: 't',
          Key: {},
          UpdateExpression: 'ADD demand :v',
          ReturnConsumedCapacity: 'TOTAL',
        },
      },
      /^State "Only": the aws-sdk:dynamodb:updateItem parameter ReturnConsumedCapacity/,
    ],
    [
      {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:updateItem',
        Arguments: {
          TableName: 't',
          Key: { pk: { S: '{% $states.input.key %}' } },
          UpdateExpression: 'SET #a = :v, #a.b = :w',
          ExpressionAttributeNames: { '#a': 'a' },
          ExpressionAttributeValues: { ':v': { S: '{% $states.input.key %}' }, ':w': { N: '1' } },
        },
      },
      /^State "Only": an expression DynamoDB refuses \(.*overlap/i,
    ],
    [
      {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Resource: 'arn:aws:states:::aws-sdk:dynamodb:getItem',
        Arguments: { TableName: 't', Key: {}, AttributesToGet: ['a'] },
      },
      /^State "Only": the aws-sdk:dynamodb:getItem parameter AttributesToGet/,
    ],
  ])('%j', async (state, message) => {
    const clock = new AutoClock(0);
    await expect(simulate({ ...BY_HAND, ...workflow, definition: withState(state), clock })).rejects.toThrow(
      message,
    );
    // AND nothing was left running on its clock (the housekeeping's schedules would run forever)
    expect(clock.pending).toBe(0);
  });
});

test("-c tagInputObjects=true: the recorder's S3 tagging is refused by name before anything runs", async () => {
  const tagging = await synthesizedTemplate({ tagInputObjects: 'true' });
  await expect(simulateTemplate({ ...BY_HAND, templatePath: tagging })).rejects.toThrow(
    /^State "\w+Tag\w*": S3 object tagging \(aws-sdk:s3:\w+Tagging, -c tagInputObjects=true\) is not modelled by the planner .*; simulate the stack without tagInputObjects/,
  );
});

test("the template's Choices and counters, evaluated as the engine evaluates them", () => {
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
    'ReleaseLaunchSlot',
  );
  expect(choose(States.WasTaskStarted, { error: exited })).toBe('ReleaseLaunchSlot');
  expect(runPass(States.CountFirstRelaunch, { key: 'k' })).toEqual({ key: 'k', relaunches: { count: 1 } });
  expect(runPass(States.CountRelaunch, { key: 'k', relaunches: { count: 1 } })).toEqual({
    key: 'k',
    relaunches: { count: 2 },
  });
  // the gate: a release that finds someone in line grants and wakes it; an empty line is done
  expect(choose(States.IsAnyoneWaiting, { launchSlot: { line: {} } })).toBe('WasObjectProcessed');
  expect(choose(States.IsAnyoneWaiting, { launchSlot: { line: { waiter: { sk: { S: 'w' } } } } })).toBe(
    'GrantLaunchSlot',
  );
  // its claim's one-member set of this execution's ARN
  expect(
    fillPayload(States.ClaimLaunchSlot.Parameters as Json, {}, { Execution: { Id: 'arn:e' } }),
  ).toMatchObject({
    ExpressionAttributeValues: { ':holders': { SS: ['arn:e'] }, ':holder': { S: 'arn:e' } },
  });
});

describe('the gate under stops: every ending releases, through the cleanup rule or the reconciler', () => {
  /**
   * 8 objects at once on the gate's 2 slots, every one stopped during its task; the account's quota
   * (2 vCPU) has room for 4 tasks, so only the gate bounds them.
   */
  const ALL_STOPPED = { ...BY_HAND, vcpuQuota: 2, stopRate: 1 };

  test('the cleanup rule sees each ABORTED holder and hands its slot on at once', async () => {
    const result = await simulate({ ...ALL_STOPPED, ...twoSlots });
    expect(result).toMatchObject({
      succeeded: 0,
      stopped: 8,
      failed: 0,
      slotsLostAtRest: 0,
      // released the moment it stopped: the status-change event starts the cleanup at that instant
      maxIdleSlotSecondsWhileWaiting: 0,
      // the reconciler found nothing to repair
      repairs: {},
      peakTasksOfRunningExecutions: 2,
    });
    expect(gateAtRest(result)).toEqual(EMPTY);
    // per stopped execution, one cleanup and one recorder run
    expect(result.housekeepingRuns.byRules).toBe(8 + 8);
    // each record ended FAILED with the error StopExecution gave, and announced
    expect(result.eventsPut).toBe(8);
    const errors = result.finalItems
      .filter(({ tableName }) => tableName !== twoSlots.gateTableName)
      .map(({ item }) => [(item.status as { S: string }).S, (item.error as { S: string }).S]);
    expect(errors).toEqual(Array.from({ length: 8 }, () => ['FAILED', 'Planner.Stopped']));
    // a stopped task keeps its vCPU until its worker exits (at most its 30 s stopTimeout): the next
    // pair of tasks runs beside it, over the gate's 2 slots, bounded by the tasks still stopping
    expect(result.peakRunningTasks).toBeGreaterThan(2);
    expect(result.peakRunningTasks).toBeLessThanOrEqual(2 + result.peakStoppingTasks);
  });

  test('with every status-change event missed (no cleanup rule), the reconciler releases them within its period', async () => {
    const noCleanup = {
      ...twoSlots,
      housekeeping: { ...twoSlots.housekeeping!, eventRules: [] },
    };
    const result = await simulate({ ...ALL_STOPPED, ...noCleanup });
    expect(result).toMatchObject({
      stopped: 8,
      failed: 0,
      slotsLostAtRest: 0,
      peakTasksOfRunningExecutions: 2,
    });
    expect(gateAtRest(result)).toEqual(EMPTY);
    expect(result.housekeepingRuns.byRules).toBe(0);
    // each stopped holder released by the reconciler, each waiter woken by it into the freed slot
    expect(result.repairs).toEqual({ HoldersNotRunning: 8, WaitersWokenIntoFreeSlots: 6, Repairs: 14 });
    expect(result.maxIdleSlotSecondsWhileWaiting).toBeGreaterThan(0);
    expect(result.maxIdleSlotSecondsWhileWaiting).toBeLessThanOrEqual(60);
  });
});
