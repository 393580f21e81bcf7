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
  type Retrier,
  retrierFor,
  retryDelaySeconds,
  runPass,
} from './asl';
import { EventQueue } from './event-queue';
import { type Architecture, PRICES } from './prices';

/**
 * A burst of uploads through the synthesized workflow, in virtual time: every execution walks the
 * definition (its Retry and Catch as deployed), every RunTask goes through the same quota model as
 * the local ECS, and each task that launches runs for a sampled time. Nothing fails but for lack of
 * capacity, so what it measures is waiting: how long, how many calls, what it costs.
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
  readonly stateTransitions: number;
  readonly costUsd: number;
  /** The part of costUsd spent on waiting: the retried launches' state transitions. */
  readonly waitCostUsd: number;
  readonly wallSeconds: number;
}

interface Execution {
  readonly arrivedAt: number;
  stateName: string;
  input: Json;
  /** Retries made per retrier of the current state (reset when the state is entered again). */
  retries: number[];
  launchAttempts: number;
  launchedAt?: number;
  outcome?: 'SUCCEEDED' | 'FAILED';
  finishedAt?: number;
}

type SimEvent =
  | { readonly kind: 'enter'; readonly execution: Execution; readonly state: string }
  | { readonly kind: 'runTask'; readonly execution: Execution }
  | {
      readonly kind: 'stopped';
      readonly execution: Execution;
      readonly capacity: CapacityType;
      readonly cpuUnits: number;
    };

const WINDOW_SECONDS = 10;

export function simulate(options: SimulationOptions): SimulationResult {
  const wallStart = performance.now();
  const { definition } = options;
  checkSupported(definition);
  const random = mulberry32(options.seed);
  const queue = new EventQueue<SimEvent>();
  const quotas = new FargateQuotas({ vcpuQuota: options.vcpuQuota, spotVcpuQuota: options.spotVcpuQuota }, 0);
  const architecture = options.architecture ?? 'ARM64';
  const callsPerWindow: number[] = [];
  let transitions = 0;
  let retries = 0;
  let fargateUsd = 0;
  let ipv4Usd = 0;
  let taskSecondsRun = 0;
  const capacitiesUsed = new Set<CapacityType>();

  const executions: Execution[] = [];
  for (let i = 0; i < options.objects; i++) {
    const arrivedAt = options.objects <= 1 ? 0 : (i * options.arrivalSeconds) / options.objects;
    const execution: Execution = {
      arrivedAt,
      stateName: definition.StartAt as string,
      input: { bucket: 'simulated', key: `incoming/object-${i}`, etag: '', versionId: '' },
      retries: [],
      launchAttempts: 0,
    };
    executions.push(execution);
    queue.schedule(arrivedAt, { kind: 'enter', execution, state: execution.stateName });
  }

  const finish = (execution: Execution, outcome: 'SUCCEEDED' | 'FAILED') => {
    execution.outcome = outcome;
    execution.finishedAt = queue.now;
  };
  const next = (execution: Execution, state: AslState, output: Json) => {
    execution.input = output;
    if (state.End === true || typeof state.Next !== 'string') finish(execution, 'SUCCEEDED');
    else queue.schedule(queue.now, { kind: 'enter', execution, state: state.Next });
  };
  const fail = (execution: Execution, state: AslState, error: string, cause: string) => {
    const retrier = retrierFor(state, error);
    if (retrier >= 0) {
      const spec = (state.Retry as Retrier[])[retrier];
      const made = execution.retries[retrier] ?? 0;
      if (made < maxAttemptsOf(spec)) {
        execution.retries[retrier] = made + 1;
        transitions++;
        retries++;
        const delay = retryDelaySeconds(spec, made + 1, random);
        queue.schedule(queue.now + delay, { kind: 'runTask', execution });
        return;
      }
    }
    const catcher = catcherFor(state, error);
    if (!catcher) return finish(execution, 'FAILED');
    execution.input = applyResultPath(execution.input, catcher.ResultPath, { Error: error, Cause: cause });
    queue.schedule(queue.now, { kind: 'enter', execution, state: catcher.Next });
  };

  for (let event = queue.next(); event; event = queue.next()) {
    const { execution } = event;
    if (event.kind === 'enter') {
      transitions++;
      execution.stateName = event.state;
      execution.retries = [];
      const state = definition.States[event.state];
      if (state.Type === 'Task') queue.schedule(queue.now, { kind: 'runTask', execution });
      else if (state.Type === 'Pass') next(execution, state, runPass(state, execution.input));
      else if (state.Type === 'Choice')
        queue.schedule(queue.now, { kind: 'enter', execution, state: choose(state, execution.input) });
      else finish(execution, state.Type === 'Succeed' ? 'SUCCEEDED' : 'FAILED');
      continue;
    }
    const state = definition.States[execution.stateName];
    const parameters = state.Parameters as unknown as RunTaskParameters & {
      NetworkConfiguration?: { AwsvpcConfiguration?: { AssignPublicIp?: string } };
    };
    const capacity: CapacityType = placedOnSpot(parameters) ? 'FARGATE_SPOT' : 'FARGATE';
    const taskDefinition = taskDefinitionOf(options.taskDefinitions, parameters.TaskDefinition);
    const cpuUnits = Number(taskDefinition.cpu ?? 256);
    if (event.kind === 'stopped') {
      quotas.release(event.capacity, event.cpuUnits);
      next(
        execution,
        state,
        applyResultPath(execution.input, state.ResultPath as string | undefined, {
          StopCode: 'EssentialContainerExited',
          ExitCodes: [0],
        }),
      );
      continue;
    }
    // runTask
    execution.launchAttempts++;
    const window = Math.floor(queue.now / WINDOW_SECONDS);
    callsPerWindow[window] = (callsPerWindow[window] ?? 0) + 1;
    const refusal = quotas.runTask(capacity, cpuUnits, queue.now);
    if (refusal) {
      const error = launchRefusalError(refusal, 'simulated');
      fail(execution, state, error.name, error.cause);
      continue;
    }
    capacitiesUsed.add(capacity);
    execution.launchedAt ??= queue.now;
    const seconds = sampleTaskSeconds(options.taskSeconds, options.taskSpread, random);
    taskSecondsRun += seconds;
    const billedHours = Math.max(PRICES.minimumBilledSeconds, seconds) / 3600;
    const fargateHour =
      (cpuUnits / 1024) * PRICES.fargateVcpuHour[architecture] +
      (Number(taskDefinition.memory ?? 512) / 1024) * PRICES.fargateGbHour[architecture];
    fargateUsd += fargateHour * billedHours * (capacity === 'FARGATE_SPOT' ? PRICES.spotFactor : 1);
    if (parameters.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
      ipv4Usd += PRICES.publicIpv4Hour * billedHours;
    }
    queue.schedule(queue.now + seconds, { kind: 'stopped', execution, capacity, cpuUnits });
  }

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
  const stepFunctionsUsd = transitions * PRICES.stateTransition;
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
    costUsd: round(fargateUsd + ipv4Usd + stepFunctionsUsd, 4),
    waitCostUsd: round(retries * PRICES.stateTransition, 4),
    wallSeconds: round((performance.now() - wallStart) / 1000),
  };
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
