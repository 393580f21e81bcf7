import { performance } from 'node:perf_hooks';

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
import type { AslState, StateMachineDefinition } from '../stepfunctions/definitions';
import {
  applyResultPath,
  catcherFor,
  checkSupported,
  choose,
  type Json,
  maxAttemptsOf,
  payload,
  type Retrier,
  retrierFor,
  retryDelaySeconds,
  runPass,
  type TaskResource,
  taskResource,
} from './asl';
import { DynamoDbItems, type TableSchema } from './dynamodb-items';
import { EventQueue } from './event-queue';
import { type Architecture, PRICES } from './prices';
import { ServiceError } from './service-error';
import { type QueueSettings, SqsQueues } from './sqs-queues';
import { TaskTokens } from './task-tokens';

/**
 * A burst of uploads through the synthesized workflow, in virtual time: every execution walks the
 * definition (its Retry and Catch as deployed), every RunTask goes through the same quota model as
 * the local ECS, and each task that launches runs for a sampled time. The launch gate's services run
 * as they behave: a DynamoDB item store (dynamodb-items.ts), SQS queues with long polls and
 * visibility timeouts (sqs-queues.ts) and Step Functions' task tokens (task-tokens.ts), each call
 * taking SERVICE_LATENCY_SECONDS. Nothing fails but for lack of capacity or a wait that times out,
 * so what it measures is waiting: how long, how many calls, what it costs.
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
  /** The template's queues by URL (`loadQueueSettings`); any other queue gets SQS's defaults. */
  readonly queueSettings?: Readonly<Record<string, QueueSettings>>;
  /** The template's tables by name (`loadTableSchemas`): what a Query orders by. */
  readonly tableSchemas?: Readonly<Record<string, TableSchema>>;
  /** @default SERVICE_LATENCY_SECONDS; `{ min: 0, max: 0 }` for a run worked out by hand */
  readonly serviceLatencySeconds?: { readonly min: number; readonly max: number };
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

/**
 * How long a call from a Task state to DynamoDB, SQS or Step Functions' own API takes, request to
 * answer, drawn uniformly: tens of milliseconds in one region. The figure hardly moves a plan of
 * 60-second tasks; what matters is that it is not zero, so the races of the gate happen as on AWS
 * (a releaser that counts a waiter in line may poll before that waiter's message has landed). The
 * service acts halfway through. RunTask's own time is part of the sampled task time.
 */
export const SERVICE_LATENCY_SECONDS = { min: 0.02, max: 0.05 } as const;

interface Execution {
  readonly name: string;
  readonly arrivedAt: number;
  stateName: string;
  /** When the current state was entered (virtual seconds). */
  enteredAt: number;
  input: Json;
  /** Retries made per retrier of the current state (reset when the state is entered again). */
  retries: number[];
  /** The states entered so far, and whether the latest entry was on the waiting path (see waitCostUsd). */
  readonly visited: Set<string>;
  onWaitingPath: boolean;
  /** The current attempt is a Retry: what it costs is waiting. */
  retrying: boolean;
  launchAttempts: number;
  launchedAt?: number;
  outcome?: 'SUCCEEDED' | 'FAILED';
  finishedAt?: number;
}

/** One attempt of a Task: its answer, its timeout and its error count once, whichever comes first. */
interface Attempt {
  settled: boolean;
  /** Gives back what the attempt holds when its TimeoutSeconds passes (a task's vCPU, a token). */
  onTimeout?: () => void;
}

type Outcome = { readonly result: Json } | { readonly error: string; readonly cause: string };

const WINDOW_SECONDS = 10;

export function simulate(options: SimulationOptions): SimulationResult {
  const wallStart = performance.now();
  const { definition } = options;
  checkSupported(definition);
  const waitingStates = waitingPathStates(definition);
  const random = mulberry32(options.seed);
  // Its own stream, so the gate's calls leave the sampled task times as they were.
  const latencyRandom = mulberry32(options.seed ^ 0x5bd1e995);
  const serviceLatency = options.serviceLatencySeconds ?? SERVICE_LATENCY_SECONDS;
  const queue = new EventQueue<() => void>();
  const quotas = new FargateQuotas({ vcpuQuota: options.vcpuQuota, spotVcpuQuota: options.spotVcpuQuota }, 0);
  const dynamodb = new DynamoDbItems(options.tableSchemas);
  const sqs = new SqsQueues(queue, options.queueSettings);
  const tokens = new TaskTokens();
  const architecture = options.architecture ?? 'ARM64';
  const callsPerWindow: number[] = [];
  const taskSecondsLaunched: number[] = [];
  let transitions = 0;
  let waitUsd = 0;
  let fargateUsd = 0;
  let ipv4Usd = 0;
  let taskSecondsRun = 0;
  const capacitiesUsed = new Set<CapacityType>();

  const executions: Execution[] = [];
  for (let i = 0; i < options.objects; i++) {
    const arrivedAt = options.objects <= 1 ? 0 : (i * options.arrivalSeconds) / options.objects;
    const execution: Execution = {
      name: `object-${i}`,
      arrivedAt,
      stateName: definition.StartAt as string,
      enteredAt: arrivedAt,
      input: { bucket: 'simulated', key: `incoming/object-${i}`, etag: '', versionId: '' },
      retries: [],
      visited: new Set(),
      onWaitingPath: false,
      retrying: false,
      launchAttempts: 0,
    };
    executions.push(execution);
    queue.schedule(arrivedAt, () => enter(execution, execution.stateName));
  }

  /** Adds `usd` of requests or transitions made by `execution` now to the wait cost if they are waiting. */
  const charge = (execution: Execution, usd: number) => {
    if (execution.onWaitingPath || execution.retrying) waitUsd += usd;
  };
  const finish = (execution: Execution, outcome: 'SUCCEEDED' | 'FAILED') => {
    execution.outcome = outcome;
    execution.finishedAt = queue.now;
  };
  const next = (execution: Execution, state: AslState, output: Json) => {
    execution.input = output;
    if (state.End === true || typeof state.Next !== 'string') finish(execution, 'SUCCEEDED');
    else enter(execution, state.Next);
  };

  function enter(execution: Execution, name: string): void {
    transitions++;
    execution.onWaitingPath =
      waitingStates.has(name) || (execution.onWaitingPath && execution.visited.has(name));
    execution.visited.add(name);
    execution.retrying = false;
    charge(execution, PRICES.stateTransition);
    execution.stateName = name;
    execution.enteredAt = queue.now;
    execution.retries = [];
    const state = definition.States[name];
    if (state.Type === 'Task') invoke(execution);
    else if (state.Type === 'Pass') next(execution, state, runPass(state, execution.input));
    else if (state.Type === 'Choice') enter(execution, choose(state, execution.input));
    else finish(execution, state.Type === 'Succeed' ? 'SUCCEEDED' : 'FAILED');
  }

  /** The task's outcome for the current attempt, if it has none yet: on to Next, a Retry or a Catch. */
  function settle(execution: Execution, attempt: Attempt, outcome: Outcome): void {
    if (attempt.settled) return;
    attempt.settled = true;
    const state = definition.States[execution.stateName];
    if ('error' in outcome) return fail(execution, state, outcome.error, outcome.cause);
    const selected = state.ResultSelector
      ? payload(state.ResultSelector as Json, outcome.result)
      : outcome.result;
    next(
      execution,
      state,
      applyResultPath(execution.input, state.ResultPath as string | null | undefined, selected),
    );
  }

  function fail(execution: Execution, state: AslState, error: string, cause: string): void {
    const retrier = retrierFor(state, error);
    if (retrier >= 0) {
      const spec = (state.Retry as Retrier[])[retrier];
      const made = execution.retries[retrier] ?? 0;
      if (made < maxAttemptsOf(spec)) {
        execution.retries[retrier] = made + 1;
        transitions++;
        execution.retrying = true;
        charge(execution, PRICES.stateTransition);
        const delay = retryDelaySeconds(spec, made + 1, random);
        queue.schedule(queue.now + delay, () => invoke(execution));
        return;
      }
    }
    const catcher = catcherFor(state, error);
    if (!catcher) return finish(execution, 'FAILED');
    execution.input = applyResultPath(execution.input, catcher.ResultPath, { Error: error, Cause: cause });
    enter(execution, catcher.Next);
  }

  /** One attempt of the current Task state, with its TimeoutSeconds. */
  function invoke(execution: Execution): void {
    const state = definition.States[execution.stateName];
    const attempt: Attempt = { settled: false };
    if (typeof state.TimeoutSeconds === 'number') {
      queue.schedule(queue.now + state.TimeoutSeconds, () => {
        if (attempt.settled) return;
        attempt.onTimeout?.();
        settle(execution, attempt, { error: 'States.Timeout', cause: 'The task timed out' });
      });
    }
    const resource = taskResource(state)!;
    if (resource === 'ecs:runTask.sync') runTask(execution, state, attempt);
    else callService(execution, state, resource, attempt);
  }

  /** A call to DynamoDB, SQS or Step Functions: it reaches the service halfway through its latency. */
  function callService(
    execution: Execution,
    state: AslState,
    resource: Exclude<TaskResource, 'ecs:runTask.sync'>,
    attempt: Attempt,
  ): void {
    const latency = serviceLatency.min + latencyRandom() * (serviceLatency.max - serviceLatency.min);
    const context: Json = {
      Execution: {
        Id: `arn:aws:states:simulated:000000000000:execution:workflow:${execution.name}`,
        Name: execution.name,
      },
      State: {
        Name: execution.stateName,
        // virtual seconds as a time: ISO strings order as the times do
        EnteredTime: new Date(execution.enteredAt * 1000).toISOString(),
        RetryCount: execution.retries.reduce((a, b) => a + b, 0),
      },
    };
    if (resource.endsWith('.waitForTaskToken')) {
      const token = tokens.issue({
        succeed: (output) => settle(execution, attempt, { result: output }),
        fail: (error, cause) => settle(execution, attempt, { error, cause }),
      });
      attempt.onTimeout = () => tokens.end(token);
      (context as Record<string, Json>).Task = { Token: token };
    }
    const parameters = payload((state.Parameters ?? {}) as Json, execution.input, context) as Record<
      string,
      Json
    >;
    charge(execution, requestPrice(resource));
    const answer = (outcome: Outcome) =>
      queue.schedule(queue.now + latency / 2, () => settle(execution, attempt, outcome));
    queue.schedule(queue.now + latency / 2, () => {
      try {
        switch (resource) {
          case 'dynamodb:updateItem':
            return answer({ result: dynamodb.updateItem(parameters) });
          case 'aws-sdk:dynamodb:updateItem':
            return answer({ result: dynamodb.updateItem(parameters, 'DynamoDb') });
          case 'aws-sdk:dynamodb:deleteItem':
            return answer({ result: dynamodb.deleteItem(parameters, 'DynamoDb') });
          case 'aws-sdk:dynamodb:query':
            return answer({ result: dynamodb.query(parameters, 'DynamoDb') });
          case 'aws-sdk:dynamodb:putItem.waitForTaskToken':
            // The task now waits for its token to be answered, or for its TimeoutSeconds.
            dynamodb.putItem(parameters, 'DynamoDb');
            return;
          case 'sqs:sendMessage.waitForTaskToken':
            // The task now waits for its token to be answered, or for its TimeoutSeconds.
            sqs.sendMessage(String(parameters.QueueUrl), String(parameters.MessageBody));
            return;
          case 'aws-sdk:sqs:receiveMessage':
            return sqs.receiveMessage(parameters, (result) => answer({ result }));
          case 'aws-sdk:sqs:deleteMessage':
            return answer({
              result: sqs.deleteMessage(String(parameters.QueueUrl), String(parameters.ReceiptHandle)),
            });
          case 'aws-sdk:sfn:sendTaskSuccess':
            return answer({ result: tokens.sendTaskSuccess(parameters) });
          case 'aws-sdk:sfn:sendTaskFailure':
            return answer({ result: tokens.sendTaskFailure(parameters) });
        }
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        answer({ error: error.name, cause: error.cause });
      }
    });
  }

  function runTask(execution: Execution, state: AslState, attempt: Attempt): void {
    const parameters = state.Parameters as unknown as RunTaskParameters & {
      NetworkConfiguration?: { AwsvpcConfiguration?: { AssignPublicIp?: string } };
    };
    const capacity: CapacityType = placedOnSpot(parameters) ? 'FARGATE_SPOT' : 'FARGATE';
    const taskDefinition = taskDefinitionOf(options.taskDefinitions, parameters.TaskDefinition);
    const cpuUnits = Number(taskDefinition.cpu ?? 256);
    execution.launchAttempts++;
    const window = Math.floor(queue.now / WINDOW_SECONDS);
    callsPerWindow[window] = (callsPerWindow[window] ?? 0) + 1;
    const refusal = quotas.runTask(capacity, cpuUnits, queue.now);
    if (refusal) {
      const error = launchRefusalError(refusal, 'simulated');
      return settle(execution, attempt, { error: error.name, cause: error.cause });
    }
    capacitiesUsed.add(capacity);
    execution.launchedAt ??= queue.now;
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
    // A task that times out is stopped then: its vCPU are free at once.
    attempt.onTimeout = () => quotas.release(capacity, cpuUnits);
    queue.schedule(queue.now + seconds, () => {
      if (attempt.settled) return;
      quotas.release(capacity, cpuUnits);
      // The stopped task as DescribeTasks gives it, for the state's ResultSelector: its worker exited 0.
      settle(execution, attempt, {
        result: {
          TaskArn: `arn:aws:ecs:simulated:task/${execution.name}`,
          StopCode: 'EssentialContainerExited',
          StoppedReason: 'Essential container in task exited',
          Containers: [{ ExitCode: 0 }],
        },
      });
    });
  }

  for (let event = queue.next(); event; event = queue.next()) event();

  const succeeded = executions.filter((e) => e.outcome === 'SUCCEEDED').length;
  const waits = executions
    .filter((e) => e.launchedAt !== undefined)
    .map((e) => (e.launchedAt as number) - e.arrivedAt)
    .sort((a, b) => a - b);
  const attempts = executions.map((e) => e.launchAttempts);
  const lastResult = Math.max(0, ...executions.map((e) => e.finishedAt ?? 0));
  const firstUpload = executions[0]?.arrivedAt ?? 0;
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
  const servicesUsd =
    transitions * PRICES.stateTransition +
    dynamodb.writeRequests * PRICES.dynamodbWriteRequestUnit +
    dynamodb.readRequests * PRICES.dynamodbReadRequestUnit +
    sqs.requests * PRICES.sqsRequest;
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
    stateTransitions: transitions,
    costUsd: round(fargateUsd + ipv4Usd + servicesUsd, 4),
    waitCostUsd: round(waitUsd, 4),
    peakWaitingExecutions: tokens.peakWaiting,
    refusedTaskTokens: tokens.refused,
    dynamodbWriteRequests: dynamodb.writeRequests,
    dynamodbReadRequests: dynamodb.readRequests,
    sqsRequests: sqs.requests,
    finalItems: dynamodb.snapshot(),
    messagesLeft: sqs.messagesLeft(),
    fcfsMakespanSeconds: round(
      fcfsMakespan(
        executions.map((e) => e.arrivedAt),
        taskSecondsLaunched,
        slots,
      ) - firstUpload,
    ),
    wallSeconds: round((performance.now() - wallStart) / 1000),
  };
}

/** What one call of `resource` is billed, beside its state transition. */
function requestPrice(resource: TaskResource): number {
  if (resource.endsWith('dynamodb:query')) return PRICES.dynamodbReadRequestUnit;
  if (/dynamodb:/.test(resource)) return PRICES.dynamodbWriteRequestUnit;
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
    return (
      resource !== undefined &&
      (resource.endsWith('.waitForTaskToken') || resource.endsWith(':receiveMessage'))
    );
  };
  const lineChoices = new Set(
    Object.values(definition.States)
      .filter((state) => taskResource(state)?.endsWith('dynamodb:query') && typeof state.Next === 'string')
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
