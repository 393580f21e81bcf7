import { performance } from 'node:perf_hooks';

import { AutoClock, type Clock } from '../clock';
import {
  type CapacityType,
  FargateQuotas,
  LAUNCH_BURST,
  LAUNCH_REFILL_PER_SECOND,
  launchRefusalError,
  RUN_TASK_BURST,
  RUN_TASK_REFILL_PER_SECOND,
} from '../ecs/fargate-quotas';
import type { LocalTaskDefinition } from '../ecs/task-definitions';
import { placedOnSpot, type RunTaskParameters } from '../ecs/task-runner';
import type { QueueSettings } from '../sqs/queue-messages';
import { LocalSqs } from '../sqs/queues';
import { StatesError } from '../stepfunctions/asl/errors';
import type { Json } from '../stepfunctions/asl/paths';
import type { AslState, StateMachineDefinition } from '../stepfunctions/definitions';
import { forEachState } from '../stepfunctions/definitions';
import { type ExecutionRecord, LocalStepFunctions } from '../stepfunctions/executions';
import { checkDynamoDbParameters, DynamoDbItems, type TableSchema } from './dynamodb-items';
import { type Architecture, PRICES } from './prices';

/**
 * A burst of uploads through the synthesized workflow, on the same engine as `npm start`
 * (local/stepfunctions), the same SQS model and task tokens, on a clock that moves by itself: every
 * execution runs the deployed definition (its Retry and Catch, its launch gate), every RunTask goes
 * through the same quota model as the local ECS, and each task that launches runs for a sampled
 * time instead of a worker process. Two things are modelled rather than run: the task itself, and
 * DynamoDB's storage (dynamodb-items.ts: items in memory, expressions read by dynalite's own parsers,
 * reached through the same DynamoDB integrations as `npm start`; dynalite's store answers in 3 to 5
 * ms a call on this machine, and the gate makes several per object). Service calls take no time. What it measures is
 * waiting: how long, how many calls, what it costs.
 */

export interface SimulationOptions {
  readonly definition: StateMachineDefinition;
  readonly taskDefinitions: readonly LocalTaskDefinition[];
  /** @default 'ARM64' */
  readonly architecture?: Architecture;
  readonly objects: number;
  /** Uploads spread evenly over this many seconds; 0: all at once. */
  readonly arrivalSeconds: number;
  readonly vcpuQuota: number;
  readonly spotVcpuQuota: number;
  /** Mean task time, Fargate's start included. */
  readonly taskSeconds: number;
  /** Coefficient of variation of task times (log-normal); 0: every task takes `taskSeconds`. */
  readonly taskSpread: number;
  readonly seed: number;
  /** The template's queues (queue-messages.ts `queueSettings`). @default none */
  readonly queueSettings?: readonly QueueSettings[];
  /** The template's tables by name (`loadTableSchemas`): what a Query orders by. @default none */
  readonly tableSchemas?: Readonly<Record<string, TableSchema>>;
  /** @default a clock that moves by itself from 0: the run takes as long as its work */
  readonly clock?: Clock;
}

export interface SimulationResult {
  readonly objects: number;
  readonly succeeded: number;
  readonly failed: number;
  /** First upload to last result. */
  readonly makespanSeconds: number;
  /** The best the quotas allow: the larger of the launch-rate bound and the vCPU-slot bound. */
  readonly lowerBoundSeconds: number;
  /** From upload to the launch of the task that ran. */
  readonly p50WaitSeconds: number;
  readonly p99WaitSeconds: number;
  /** RunTask calls (refused ones included) per second, the busiest 10-second window. */
  readonly peakRunTaskCallsPerSecond: number;
  /** The same, once the uploads are over (the waiting, not the arrival itself). */
  readonly peakRunTaskCallsPerSecondAfterUploads: number;
  readonly peakRunningTasks: number;
  /** RunTask calls per object, retries included. */
  readonly meanLaunchAttempts: number;
  /** Most RunTask calls of one object. */
  readonly maxLaunchAttempts: number;
  /** States entered and Retry attempts made, as Step Functions bills them. */
  readonly stateTransitions: number;
  /** Fargate, public IPv4, state transitions, DynamoDB write request units and SQS requests. */
  readonly costUsd: number;
  /**
   * The part of costUsd spent because objects waited: every Retry attempt (the retried launches) and
   * the requests it makes, and the transitions and requests of the waiting path. The waiting path is
   * found from the definition, not by name: the states that wait on another execution (a callback
   * task, `.waitForTaskToken`; a poll of a queue for one, `sqs:receiveMessage`) and every state that
   * can only be reached through them, plus each later entry of a state this execution had already
   * passed that it re-enters from there (the second ReleaseLaunchSlot and IsAnyoneWaiting after a stale
   * token or an empty poll). Where an execution would go anyway (its one release, its Succeed) is not.
   */
  readonly waitCostUsd: number;
  /** Most executions waiting for a task token at once (in line for a launch slot). */
  readonly peakWaitingExecutions: number;
  /** SendTaskSuccess/SendTaskFailure calls refused because the token's task was no longer waiting. */
  readonly refusedTaskTokens: number;
  readonly dynamodbWriteRequests: number;
  readonly dynamodbReadRequests: number;
  readonly sqsRequests: number;
  /** The DynamoDB items when the last execution ended (the gate's count should be back to 0). */
  readonly finalItems: ReadonlyArray<{ readonly tableName: string; readonly item: Record<string, Json> }>;
  /** Messages left in the queues when the last execution ended, visible or not. */
  readonly messagesLeft: number;
  /**
   * The makespan a perfect first-come-first-served gate would reach: the same task times, each object
   * started on the first of the account's slots to free up, with no latency, retries or launch limits.
   * Not a bound (another order could do better), but what the end of a burst costs at best when the
   * last tasks to start are long ones.
   */
  readonly fcfsMakespanSeconds: number;
  readonly wallSeconds: number;
}

const WINDOW_SECONDS = 10;
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow';

/** What the planner runs: the engine's integrations, with DynamoDB's items modelled in memory. */
const MODELLED_RESOURCES = [
  'ecs:runTask.sync',
  'dynamodb:updateItem',
  'dynamodb:putItem',
  'dynamodb:deleteItem',
  'dynamodb:getItem',
  'aws-sdk:dynamodb:updateItem',
  'aws-sdk:dynamodb:putItem',
  'aws-sdk:dynamodb:putItem.waitForTaskToken',
  'aws-sdk:dynamodb:deleteItem',
  'aws-sdk:dynamodb:getItem',
  'aws-sdk:dynamodb:query',
  'sqs:sendMessage',
  'sqs:sendMessage.waitForTaskToken',
  'aws-sdk:sqs:sendMessage',
  'aws-sdk:sqs:receiveMessage',
  'aws-sdk:sqs:deleteMessage',
  'aws-sdk:sfn:sendTaskSuccess',
  'aws-sdk:sfn:sendTaskFailure',
  'aws-sdk:sfn:sendTaskHeartbeat',
];

/** The request parameters dynamodb-items.ts answers as DynamoDB does; another would be ignored. */
const MODELLED_DYNAMODB_PARAMETERS = [
  'TableName',
  'Key',
  'Item',
  'IndexName',
  'UpdateExpression',
  'ConditionExpression',
  'KeyConditionExpression',
  'ExpressionAttributeNames',
  'ExpressionAttributeValues',
  'ReturnValues',
  'ConsistentRead',
  'Limit',
  'ScanIndexForward',
];

export class UnsupportedWorkflowError extends Error {
  constructor(state: string, what: string) {
    super(
      `State "${state}": ${what} is not modelled by the planner (local/simulate/simulation.ts); ` +
        `it models Task states calling ${MODELLED_RESOURCES.join(', ')}`,
    );
    this.name = 'UnsupportedWorkflowError';
  }
}

/** Throws UnsupportedWorkflowError for the first Task the planner cannot model (the engine checks the rest). */
export function checkSupported(definition: StateMachineDefinition): void {
  forEachState(definition, (state, name) => {
    if (state.Type !== 'Task') return;
    const resource = taskResource(state);
    if (!MODELLED_RESOURCES.includes(resource))
      throw new UnsupportedWorkflowError(name, `Task resource ${String(state.Resource)}`);
    if (/(^|:)dynamodb:/.test(resource)) {
      const parameters = (state.Parameters ?? {}) as Record<string, Json>;
      const unmodelled = Object.keys(parameters)
        .map((key) => key.replace(/\.\$$/, ''))
        .find((key) => !MODELLED_DYNAMODB_PARAMETERS.includes(key));
      if (unmodelled) throw new UnsupportedWorkflowError(name, `the ${resource} parameter ${unmodelled}`);
      const problem = checkDynamoDbParameters(parameters);
      if (problem) throw new UnsupportedWorkflowError(name, problem);
    }
  });
}

/** `arn:aws:states:::dynamodb:updateItem` → `dynamodb:updateItem`. */
function taskResource(state: AslState): string {
  return /^arn:[^:]+:states:::(.+)$/.exec(String(state.Resource))?.[1] ?? String(state.Resource);
}

/** DynamoDB as the engine's DynamoDB integrations call it (`client.send(command)`), on the modelled items. */
function modelledDynamoDb(items: DynamoDbItems) {
  const actions: Record<string, (input: Record<string, Json>) => Json> = {
    UpdateItemCommand: (input) => items.updateItem(input),
    PutItemCommand: (input) => items.putItem(input),
    DeleteItemCommand: (input) => items.deleteItem(input),
    GetItemCommand: (input) => items.getItem(input),
    QueryCommand: (input) => items.query(input),
  };
  return {
    send: async (command: { constructor: { name: string }; input: Record<string, Json> }) => {
      const action = actions[command.constructor.name];
      if (!action) {
        throw new Error(
          `The planner models DynamoDB ${Object.keys(actions).join(', ')}, not ${command.constructor.name}`,
        );
      }
      return action(command.input);
    },
  };
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const wallStart = performance.now();
  const { definition } = options;
  checkSupported(definition);
  const waitingStates = waitingPathStates(definition);
  const random = mulberry32(options.seed);
  const clock = options.clock ?? new AutoClock(0);
  const startedAt = clock.now();
  const quotas = new FargateQuotas({ vcpuQuota: options.vcpuQuota, spotVcpuQuota: options.spotVcpuQuota }, 0);
  const items = new DynamoDbItems(options.tableSchemas);
  const sqs = new LocalSqs(options.queueSettings ?? [], clock);
  const architecture = options.architecture ?? 'ARM64';
  const callsPerWindow: number[] = [];
  const taskSecondsLaunched: number[] = [];
  let fargateUsd = 0;
  let ipv4Usd = 0;
  let taskSecondsRun = 0;
  const capacitiesUsed = new Set<CapacityType>();
  const launchAttempts = new Map<ExecutionRecord, number>();
  const launchedAt = new Map<ExecutionRecord, number>();

  const stepFunctions = new LocalStepFunctions({
    clock,
    random,
    services: { dynamodb: modelledDynamoDb(items) as never, sqs },
    stateMachines: [{ logicalId: 'Workflow', arn: STATE_MACHINE_ARN, definition }],
    // The task, modelled: the same quotas as the local ECS, then a sampled time on the clock.
    runTask: async ({ record, parameters: raw, signal }) => {
      const parameters = raw as unknown as RunTaskParameters & {
        NetworkConfiguration?: { AwsvpcConfiguration?: { AssignPublicIp?: string } };
      };
      const capacity: CapacityType = placedOnSpot(parameters) ? 'FARGATE_SPOT' : 'FARGATE';
      const taskDefinition = taskDefinitionOf(options.taskDefinitions, parameters.TaskDefinition);
      const cpuUnits = Number(taskDefinition.cpu ?? 256);
      launchAttempts.set(record, (launchAttempts.get(record) ?? 0) + 1);
      const nowSeconds = (clock.now() - startedAt) / 1000;
      const window = Math.floor(nowSeconds / WINDOW_SECONDS);
      callsPerWindow[window] = (callsPerWindow[window] ?? 0) + 1;
      const refusal = quotas.runTask(capacity, cpuUnits, nowSeconds);
      if (refusal) {
        const error = launchRefusalError(refusal, 'simulated');
        throw new StatesError(error.name, error.cause);
      }
      capacitiesUsed.add(capacity);
      if (!launchedAt.has(record)) launchedAt.set(record, nowSeconds);
      const seconds = sampleTaskSeconds(options.taskSeconds, options.taskSpread, random);
      taskSecondsRun += seconds;
      taskSecondsLaunched.push(seconds);
      const billedHours = Math.max(PRICES.minimumBilledSeconds, seconds) / 3600;
      const fargateHour =
        (cpuUnits / 1024) * PRICES.fargateVcpuHour[architecture] +
        (Number(taskDefinition.memory ?? 512) / 1024) * PRICES.fargateGbHour[architecture];
      fargateUsd += fargateHour * billedHours * (capacity === 'FARGATE_SPOT' ? PRICES.spotFactor : 1);
      if (parameters.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
        ipv4Usd += PRICES.publicIpv4Hour * billedHours;
      }
      try {
        // A task stopped early (its state timed out) frees its vCPU at once.
        await clock.sleep(seconds * 1000, signal);
      } finally {
        quotas.release(capacity, cpuUnits);
      }
      // The stopped task as DescribeTasks gives it, for the state's ResultSelector: its worker exited 0.
      return {
        TaskArn: `arn:aws:ecs:simulated:task/${record.name}`,
        StopCode: 'EssentialContainerExited',
        StoppedReason: 'Essential container in task exited',
        Containers: [{ ExitCode: 0 }],
      };
    },
  });
  const machine = { logicalId: 'Workflow', arn: STATE_MACHINE_ARN, definition };

  const arrivals: number[] = [];
  const starts: Array<Promise<void>> = [];
  for (let i = 0; i < options.objects; i++) {
    const arrivedAt = options.objects <= 1 ? 0 : (i * options.arrivalSeconds) / options.objects;
    arrivals.push(arrivedAt);
    const input = { bucket: 'simulated', key: `incoming/object-${i}`, etag: '', versionId: '' };
    starts.push(
      clock.sleep(arrivedAt * 1000).then(() => {
        stepFunctions.startExecution(machine, input, { name: `object-${i}` });
      }),
    );
  }
  await Promise.all(starts);
  await stepFunctions.onIdle();

  const executions = stepFunctions.executions();
  const costs = historyCosts(executions, waitingStates);
  const succeeded = executions.filter((e) => e.status === 'SUCCEEDED').length;
  const arrivalOf = (record: ExecutionRecord) => (record.startDate - startedAt) / 1000;
  const waits = executions
    .filter((e) => launchedAt.has(e))
    .map((e) => launchedAt.get(e)! - arrivalOf(e))
    .sort((a, b) => a - b);
  const attempts = executions.map((e) => launchAttempts.get(e) ?? 0);
  const lastResult = Math.max(0, ...executions.map((e) => ((e.stopDate ?? startedAt) - startedAt) / 1000));
  const firstUpload = arrivals[0] ?? 0;
  const cpuUnits = Number(options.taskDefinitions[0]?.cpu ?? 256);
  const slots = [...(capacitiesUsed.size ? capacitiesUsed : ['FARGATE' as const])].reduce(
    (sum, capacity) => sum + quotas.slots(capacity, cpuUnits),
    0,
  );
  const launchBound = Math.max(
    (options.objects - RUN_TASK_BURST) / RUN_TASK_REFILL_PER_SECOND,
    (options.objects - LAUNCH_BURST * capacitiesUsed.size) /
      (LAUNCH_REFILL_PER_SECOND * Math.max(1, capacitiesUsed.size)),
    0,
  );
  const uploadWindows = Math.floor(options.arrivalSeconds / WINDOW_SECONDS) + 1;
  const perSecond = (windows: number[]) =>
    Math.max(0, ...Array.from(windows, (c) => (c ?? 0) / WINDOW_SECONDS));
  const sqsRequests = sqs.all().reduce((sum, queue) => sum + queue.requests, 0);
  const servicesUsd =
    costs.transitions * PRICES.stateTransition +
    items.writeRequests * PRICES.dynamodbWriteRequestUnit +
    items.readRequests * PRICES.dynamodbReadRequestUnit +
    sqsRequests * PRICES.sqsRequest;
  return {
    objects: options.objects,
    succeeded,
    failed: options.objects - succeeded,
    makespanSeconds: round(lastResult - firstUpload),
    lowerBoundSeconds: round(Math.max(launchBound, slots > 0 ? taskSecondsRun / slots : Infinity)),
    p50WaitSeconds: round(percentile(waits, 0.5)),
    p99WaitSeconds: round(percentile(waits, 0.99)),
    peakRunTaskCallsPerSecond: round(perSecond(callsPerWindow)),
    peakRunTaskCallsPerSecondAfterUploads: round(perSecond(callsPerWindow.slice(uploadWindows))),
    peakRunningTasks: quotas.peakRunningTasks,
    meanLaunchAttempts: round(attempts.reduce((a, b) => a + b, 0) / Math.max(1, attempts.length)),
    maxLaunchAttempts: Math.max(0, ...attempts),
    stateTransitions: costs.transitions,
    costUsd: round(fargateUsd + ipv4Usd + servicesUsd, 4),
    waitCostUsd: round(costs.waitUsd, 4),
    peakWaitingExecutions: stepFunctions.tokens.peakWaiting,
    refusedTaskTokens: costs.refusedTokens,
    dynamodbWriteRequests: items.writeRequests,
    dynamodbReadRequests: items.readRequests,
    sqsRequests,
    finalItems: items.snapshot(),
    messagesLeft: sqs.all().reduce((sum, queue) => sum + queue.size, 0),
    fcfsMakespanSeconds: round(fcfsMakespan(arrivals, taskSecondsLaunched, slots) - firstUpload),
    wallSeconds: round((performance.now() - wallStart) / 1000),
  };
}

/**
 * State transitions and the wait cost, read from each execution's history as Step Functions bills
 * it: a transition per state entered and per Retry attempt (a TaskScheduled after the first of its
 * state), a request price per service call; the part on the waiting path (see waitCostUsd) or
 * retrying is waiting. Refused task tokens are the TaskFailed of a stale token.
 */
function historyCosts(
  executions: readonly ExecutionRecord[],
  waitingStates: ReadonlySet<string>,
): { transitions: number; waitUsd: number; refusedTokens: number } {
  let transitions = 0;
  let waitUsd = 0;
  let refusedTokens = 0;
  for (const execution of executions) {
    const visited = new Set<string>();
    let onWaitingPath = false;
    let retrying = false;
    let scheduled = 0;
    const charge = (usd: number) => {
      if (onWaitingPath || retrying) waitUsd += usd;
    };
    for (const event of execution.history.events) {
      if (event.type.endsWith('StateEntered')) {
        const name = String((event.stateEnteredEventDetails as { name: string }).name);
        transitions++;
        onWaitingPath = waitingStates.has(name) || (onWaitingPath && visited.has(name));
        visited.add(name);
        retrying = false;
        scheduled = 0;
        charge(PRICES.stateTransition);
      } else if (event.type === 'TaskScheduled') {
        const details = event.taskScheduledEventDetails as { resourceType: string; resource: string };
        if (++scheduled > 1) {
          transitions++;
          retrying = true;
          charge(PRICES.stateTransition);
        }
        charge(requestPrice(`${details.resourceType}:${details.resource}`));
      } else if (event.type === 'TaskFailed') {
        const { error } = event.taskFailedEventDetails as { error: string };
        if (error === 'Sfn.TaskTimedOutException' || error === 'Sfn.InvalidTokenException') refusedTokens++;
      }
    }
  }
  return { transitions, waitUsd, refusedTokens };
}

/** What one call of `resource` (`dynamodb:updateItem`, `aws-sdk:sqs:receiveMessage`) is billed, beside its state transition. */
function requestPrice(resource: string): number {
  if (resource.endsWith('dynamodb:query') || resource.endsWith('dynamodb:getItem'))
    return PRICES.dynamodbReadRequestUnit;
  if (/(^|:)dynamodb:/.test(resource)) return PRICES.dynamodbWriteRequestUnit;
  return /(^|:)sqs:/.test(resource) ? PRICES.sqsRequest : 0;
}

/**
 * The states on the waiting path (see waitCostUsd): those that wait on another execution (a callback
 * task, a poll of a queue) and those reachable from StartAt only through one of them or through a
 * Choice branch taken because a query of the line found someone (the hand-on: every rule of a Choice
 * that follows a `dynamodb:query`, its Default aside).
 */
export function waitingPathStates(definition: StateMachineDefinition): Set<string> {
  const waits = (state: AslState) => {
    const resource = taskResource(state);
    return resource.endsWith('.waitForTaskToken') || resource.endsWith(':receiveMessage');
  };
  const lineChoices = new Set(
    Object.values(definition.States)
      .filter((state) => taskResource(state).endsWith('dynamodb:query') && typeof state.Next === 'string')
      .map((state) => String(state.Next)),
  );
  const direct = new Set<string>();
  for (const stack = [String(definition.StartAt)]; stack.length > 0;) {
    const name = stack.pop()!;
    const state = definition.States[name];
    if (direct.has(name) || waits(state)) continue;
    direct.add(name);
    stack.push(...(lineChoices.has(name) ? [state.Default as string] : successors(state)));
  }
  return new Set(Object.keys(definition.States).filter((name) => !direct.has(name)));
}

function successors(state: AslState): string[] {
  const rules = (state.Choices as Array<{ Next: string }> | undefined) ?? [];
  const catchers = (state.Catch as Array<{ Next: string }> | undefined) ?? [];
  return [state.Next, state.Default, ...rules.map((r) => r.Next), ...catchers.map((c) => c.Next)].filter(
    (name): name is string => typeof name === 'string',
  );
}

/** Each object, in arrival order, on the first of `slots` to free up, for the task times in launch order. */
function fcfsMakespan(arrivals: readonly number[], taskSeconds: readonly number[], slots: number): number {
  if (slots <= 0) return Infinity;
  const free = new Array<number>(slots).fill(0);
  let end = 0;
  taskSeconds.forEach((seconds, i) => {
    let earliest = 0;
    for (let slot = 1; slot < slots; slot++) if (free[slot] < free[earliest]) earliest = slot;
    free[earliest] = Math.max(free[earliest], arrivals[i] ?? 0) + seconds;
    end = Math.max(end, free[earliest]);
  });
  return end;
}

function taskDefinitionOf(
  taskDefinitions: readonly LocalTaskDefinition[],
  reference: string,
): LocalTaskDefinition {
  const family = reference.replace(/^arn:[^:]+:ecs:[^:]*:[^:]*:task-definition\//, '').replace(/:\d+$/, '');
  const found = taskDefinitions.find((t) => t.family === family);
  if (!found) throw new Error(`TaskDefinition ${reference} is not a task definition of the template`);
  return found;
}

/** Log-normal with the given mean and coefficient of variation: task times are skewed to the right. */
function sampleTaskSeconds(mean: number, spread: number, random: () => number): number {
  if (spread === 0) return mean;
  const sigma2 = Math.log(1 + spread * spread);
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.exp(Math.log(mean) - sigma2 / 2 + Math.sqrt(sigma2) * normal);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A small seeded PRNG (mulberry32), so a run is reproducible from its --seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
