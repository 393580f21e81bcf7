import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';

import { type Clock, RealClock } from '../clock';
import { isPlainObject } from '../cloudformation/intrinsics';
import { StatesError } from '../stepfunctions/errors';
import { type CapacityType, FargateQuotas, launchRefusalError } from './fargate-quotas';
import { launchError, LaunchFaults } from './launch-faults';
import type { LocalContainerDefinition, LocalTaskDefinition } from './task-definitions';
import {
  describeStoppedTask,
  ecsArn,
  type EcsTaskDescription,
  type LaunchedTask,
  type RunTaskParameters,
  runTaskResponse,
  type StoppedTask,
  type TaskLocation,
} from './task-description';
import type { TaskNetwork } from './task-network';

/** A container that fails as a crashing worker does: a line on stderr, exit code 1. */
const CRASHING_WORKER = [
  process.execPath,
  '-e',
  'console.error("worker crashed (injected: --inject-task-failures)"); process.exit(1)',
];

export type { EcsTaskDescription, RunTaskParameters };

/**
 * Serves `arn:aws:states:::ecs:runTask.sync` locally: starts the container's command (the worker
 * bundle, or `--task-command`) as a child process for the task's essential container, with the
 * environment ECS would give it, waits for it to stop, and answers as Step Functions does: the ECS
 * DescribeTasks description of the stopped task on success, `States.TaskFailed` with that
 * description (compact JSON) as the Cause otherwise.
 */

/** What happened to one task launch, for the execution's record (ECS's own view has no state names). */
export interface TaskAttempt {
  readonly stateName: string;
  readonly taskArn?: string;
  /** The error the state failed with, when it failed. */
  readonly error?: string;
  readonly exitCode?: number | null;
  readonly stopCode?: string;
  readonly onSpot: boolean;
  /** The container's environment as ECS gave it (task definition and overrides; no local S3 settings). */
  readonly environment?: Readonly<Record<string, string>>;
  /** The last JSON log line with `summary: true` (the recommended log format): shown, never used to find results. */
  readonly summary?: Record<string, unknown>;
  /** When the launch was requested (epoch ms); with durationMs, when tasks overlapped. */
  readonly startedAt: number;
  readonly durationMs: number;
}

export interface RunTaskRequest {
  readonly stateName: string;
  readonly parameters: unknown;
  /**
   * Aborted when Step Functions stops the task (the state timed out: the reason is a States.Timeout
   * error; or the execution ended): SIGTERM, then SIGKILL after the container's stopTimeout.
   */
  readonly signal?: AbortSignal;
  readonly onAttempt?: (attempt: TaskAttempt) => void;
  /** RunTask's response, once the task is launched (Step Functions records it as TaskSubmitted). */
  readonly onSubmitted?: (response: Record<string, unknown>) => void;
}

export interface EcsTaskRunnerOptions extends TaskLocation {
  /** Times launches, the quotas' refill and the stop timeout. @default real time */
  readonly clock?: Clock;
  readonly taskDefinitions: readonly LocalTaskDefinition[];
  /**
   * Command that runs the container, e.g. `[process.execPath, 'container/dist/worker.js']` or
   * `['/bin/sh', '-c', '<a --task-command>']`. Whatever it is, it gets the same environment.
   */
  readonly command: readonly string[];
  /** Environment under the task's own (the local S3 endpoint; credentials come from `taskCredentials`). */
  readonly baseEnvironment: Readonly<Record<string, string>>;
  readonly faults?: LaunchFaults;
  /**
   * Where tasks can pull their image from: a task placed where it cannot stops before it starts.
   * @default - every task can
   */
  readonly network?: TaskNetwork;
  /** The account's Fargate quotas every RunTask goes through. @default a new account's (6 vCPU each) */
  readonly quotas?: FargateQuotas;
  /**
   * The credentials ECS gives the task for its task role, valid while it runs: called at launch (its
   * environment goes over `baseEnvironment`), `end` when the task has stopped.
   * @default - the task runs with `baseEnvironment`'s credentials
   */
  readonly taskCredentials?: (task: {
    readonly taskDefinition: LocalTaskDefinition;
    readonly taskArn: string;
  }) => { readonly environment: Readonly<Record<string, string>>; end(): void };
  /** Each line the container writes to stdout or stderr (what CloudWatch Logs would get). */
  readonly onLog?: (
    line: string,
    task: { readonly taskArn: string; readonly stream: 'stdout' | 'stderr' },
  ) => void;
}

/** The injected failure to start (LaunchFaults' failedToStart): Docker Hub-like rate limiting. */
const RATE_EXCEEDED_PULL =
  'CannotPullContainerError: pull image manifest has been retried 1 time(s): toomanyrequests: Rate exceeded';

export class LocalEcsTaskRunner {
  private readonly running = new Set<LaunchedTask>();
  private readonly faults: LaunchFaults;
  private readonly quotas: FargateQuotas;
  private readonly clock: Clock;
  private idleWaiters: Array<() => void> = [];
  /** Runs not yet answered (launching, running or stopping). */
  private active = 0;

  constructor(private readonly options: EcsTaskRunnerOptions) {
    this.clock = options.clock ?? new RealClock();
    this.faults = options.faults ?? new LaunchFaults();
    this.quotas = options.quotas ?? new FargateQuotas({}, this.nowSeconds());
  }

  private nowSeconds(): number {
    return this.clock.now() / 1000;
  }

  /** Tasks whose container is still running. */
  get runningTasks(): number {
    return this.running.size;
  }

  /** Resolves when every run has been answered and its container has exited (at once if none runs). */
  onIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The most tasks that ran at once. */
  get peakRunningTasks(): number {
    return this.quotas.peakRunningTasks;
  }

  /** Runs one task to completion, as `ecs:runTask.sync` does. Throws a named StatesError on failure. */
  async run(request: RunTaskRequest): Promise<EcsTaskDescription> {
    this.active++;
    try {
      return await this.runOnce(request);
    } finally {
      this.active--;
      if (this.active === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        waiters.forEach((resolve) => resolve());
      }
    }
  }

  private async runOnce(request: RunTaskRequest): Promise<EcsTaskDescription> {
    const started = this.clock.now();
    const parameters = request.parameters as RunTaskParameters;
    const onSpot = placedOnSpot(parameters);
    const record = (attempt: Omit<TaskAttempt, 'stateName' | 'onSpot' | 'startedAt' | 'durationMs'>) =>
      request.onAttempt?.({
        stateName: request.stateName,
        onSpot,
        startedAt: started,
        durationMs: this.clock.now() - started,
        ...attempt,
      });

    const injected = this.faults.takeLaunchError();
    if (injected) {
      const error = launchError(injected, randomUUID());
      record({ error: error.name });
      throw error;
    }
    let task: LaunchedTask;
    const capacity: CapacityType = onSpot ? 'FARGATE_SPOT' : 'FARGATE';
    let cpuUnits: number;
    try {
      const taskDefinition = this.findTaskDefinition(parameters.TaskDefinition);
      cpuUnits = Number(taskDefinition.cpu ?? 256);
      // Every call counts against RunTask's rate; a launch also needs vCPU and a launch token.
      const refusal = this.quotas.runTask(capacity, cpuUnits, this.nowSeconds());
      if (refusal) {
        const { name, cause } = launchRefusalError(refusal, randomUUID());
        throw new StatesError(name, cause);
      }
      try {
        task = this.launch(taskDefinition, parameters, onSpot);
      } catch (error) {
        this.quotas.release(capacity, cpuUnits);
        throw error;
      }
    } catch (error) {
      record({ error: (error as Error).name });
      throw error;
    }
    request.onSubmitted?.(runTaskResponse(task, parameters, this.options));
    const interrupt = onSpot && this.faults.takeSpotInterruption();
    const stopped = await this.waitForStop(task, {
      interrupt,
      failToStart:
        this.options.network?.pullProblem(parameters) ??
        (this.faults.takeFailedToStart() ? RATE_EXCEEDED_PULL : undefined),
      signal: request.signal,
    }).finally(() => this.quotas.release(capacity, cpuUnits));
    const description = describeStoppedTask(task, stopped, parameters, this.options);
    const failed = stopped.stopCode !== 'EssentialContainerExited' || stopped.exitCode !== 0;
    const error = failed ? (stopped.timedOut ? 'States.Timeout' : 'States.TaskFailed') : undefined;
    record({
      taskArn: task.taskArn,
      exitCode: stopped.exitCode,
      stopCode: stopped.stopCode,
      environment: task.environment,
      summary: task.summary,
      error,
    });
    if (error) {
      // Step Functions' Cause for a failed runTask.sync is the task description as compact JSON.
      throw new StatesError(error, JSON.stringify(description));
    }
    return description;
  }

  /** Kills every running task now (SIGKILL): a stop that cannot wait for the stop timeout. */
  killAll(): void {
    for (const { child } of this.running) signalContainer(child, 'SIGKILL');
  }

  private launch(
    taskDefinition: LocalTaskDefinition,
    parameters: RunTaskParameters,
    onSpot: boolean,
  ): LaunchedTask {
    // Fargate tasks of this app have one container; a sidecar would need its own command, so only the
    // essential container runs locally and the task stops when it exits, as ECS stops it.
    const essential = taskDefinition.containers.filter((c) => c.essential);
    if (essential.length !== 1) {
      throw new StatesError(
        'ECS.InvalidParameterException',
        `Task definition ${taskDefinition.family} has ${essential.length} essential containers; the local ` +
          'runner runs exactly one (local/ecs/task-runner.ts)',
      );
    }
    const container = essential[0];
    const overrides = parameters.Overrides?.ContainerOverrides ?? [];
    for (const override of overrides) {
      if (!taskDefinition.containers.some((c) => c.name === override.Name)) {
        throw new StatesError(
          'ECS.InvalidParameterException',
          `Override for container "${override.Name}" does not match any container of ${taskDefinition.family}`,
        );
      }
    }
    const environment = containerEnvironment(
      container,
      overrides.find((o) => o.Name === container.name),
    );
    const cluster = (parameters.Cluster ?? 'default').split('/').pop();
    const taskArn = `${ecsArn(this.options, 'task')}/${cluster}/${randomUUID().replace(/-/g, '')}`;
    const credentials = this.options.taskCredentials?.({ taskDefinition, taskArn });
    // An injected crash runs in place of the worker, with the same environment, and exits 1.
    const [command, ...args] = this.faults.takeTaskFailure() ? CRASHING_WORKER : this.options.command;
    const child = spawn(command, args, {
      env: {
        ...IMAGE_ENVIRONMENT,
        ...this.options.baseEnvironment,
        ...credentials?.environment,
        ...ecsEnvironment(this.options),
        ...environment,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group plays the container: a signal reaches every process the command
      // started (a shell and the worker it runs alike), and none outlives the task.
      detached: true,
    });
    if (credentials) {
      let ended = false;
      const end = () => {
        if (!ended) credentials.end();
        ended = true;
      };
      child.once('error', end).once('close', end);
    }
    const task: LaunchedTask = {
      taskArn,
      taskDefinition,
      container,
      environment,
      child,
      onSpot,
      createdAt: this.clock.now(),
    };
    this.running.add(task);
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) => {
        if (stream === 'stdout') task.summary = summaryOf(line) ?? task.summary;
        this.options.onLog?.(line, { taskArn: task.taskArn, stream });
      });
    }
    return task;
  }

  private findTaskDefinition(reference: string): LocalTaskDefinition {
    // RunTask accepts "family", "family:revision" or the full ARN.
    const family = reference.replace(/^arn:[^:]+:ecs:[^:]*:[^:]*:task-definition\//, '').replace(/:\d+$/, '');
    const found = this.options.taskDefinitions.find((t) => t.family === family);
    if (!found) {
      throw new StatesError(
        'ECS.InvalidParameterException',
        `TaskDefinition not found: ${reference} is not a task definition of the template ` +
          `(families: ${this.options.taskDefinitions.map((t) => t.family).join(', ') || 'none'})`,
      );
    }
    return found;
  }

  private waitForStop(
    task: LaunchedTask,
    /** `failToStart`: the reason ECS stops the task with before its container runs. */
    options: { interrupt: boolean; failToStart?: string; signal?: AbortSignal },
  ): Promise<StoppedTask> {
    const { child, container } = task;
    let stopCode = 'EssentialContainerExited';
    let stoppedReason = 'Essential container in task exited';
    let timedOut = false;
    const killTimer = new AbortController();
    // ECS stops a task with SIGTERM, then SIGKILL after the container's stopTimeout.
    const stop = (code: string, reason: string) => {
      if (task.stoppingAt !== undefined) return;
      stopCode = code;
      stoppedReason = reason;
      task.stoppingAt = this.clock.now();
      signalContainer(child, 'SIGTERM');
      this.clock.sleep(container.stopTimeoutSeconds * 1000, killTimer.signal).then(
        () => signalContainer(child, 'SIGKILL'),
        () => undefined,
      );
    };
    if (options.failToStart) {
      // ECS stopped the task before its container ran: the container never starts (exit code null).
      child.once('spawn', () => signalContainer(child, 'SIGKILL'));
      stopCode = 'TaskFailedToStart';
      stoppedReason = options.failToStart;
    }
    if (options.interrupt) {
      // A Spot interruption: ECS sends SIGTERM (with a two-minute warning before SIGKILL on AWS).
      child.once('spawn', () => stop('SpotInterruption', 'Your Spot Task was interrupted.'));
    }
    // Step Functions calls StopTask when the state times out or the execution ends.
    const onAbort = () => {
      const reason: unknown = options.signal?.reason;
      timedOut = reason instanceof Error && reason.name === 'States.Timeout';
      stop(
        'UserInitiated',
        timedOut
          ? 'Task stopped by Step Functions: the state timed out'
          : 'Task stopped by Step Functions: the execution ended',
      );
    };
    if (options.signal?.aborted) child.once('spawn', onAbort);
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      const finish = (exitCode: number | null) => {
        options.signal?.removeEventListener('abort', onAbort);
        killTimer.abort();
        this.running.delete(task);
        resolve({ exitCode, stopCode, stoppedReason, timedOut, stoppedAt: this.clock.now() });
      };
      child.once('error', (error) => {
        stopCode = 'TaskFailedToStart';
        stoppedReason = `CannotStartContainerError: ${error.message}`;
        finish(null);
      });
      child.once('close', (code, signal) => {
        // When its main process ends, a container's other processes end with it.
        signalContainer(child, 'SIGKILL');
        if (options.failToStart) return finish(null);
        // A container killed by a signal reports 128 + the signal number, as Docker does.
        finish(code ?? (signal ? 128 + constants.signals[signal] : null));
      });
    });
  }
}

/**
 * What the image itself would define: a PATH to find programs by (a `--task-command` such as
 * `python3 worker.py`), and no AWS config or credentials files, which no container has: the
 * host's ~/.aws must not lend the task credentials or settings its task role would not give it.
 */
const IMAGE_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  AWS_CONFIG_FILE: '/nonexistent/.aws/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/.aws/credentials',
};

/** What Fargate adds to every container: the region, under both names SDKs read (older ones only the second). */
function ecsEnvironment({ region }: TaskLocation): Record<string, string> {
  return { AWS_REGION: region, AWS_DEFAULT_REGION: region };
}

/** Sends `signal` to the container: the child's process group (see `detached` in launch). */
function signalContainer(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone: every process of the container has exited.
  }
}

/**
 * The container's environment as ECS builds it: the task definition's variables, then the
 * override's, an override replacing a variable of the same name. An override without a value (the
 * state's `Value.$` path gave null, e.g. `versionId` of an unversioned bucket) is left out: ECS
 * rejects a null value, and an absent variable is what the worker reads as "not given".
 */
export function containerEnvironment(
  container: LocalContainerDefinition,
  override?: {
    readonly Environment?: ReadonlyArray<{ readonly Name: string; readonly Value?: string | null }>;
  },
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const { name, value } of container.environment) environment[name] = value;
  for (const { Name, Value } of override?.Environment ?? []) {
    if (Value !== undefined && Value !== null) environment[Name] = String(Value);
  }
  return environment;
}

/**
 * Whether ECS would place the task on FARGATE_SPOT. With a mixed strategy ECS splits tasks by
 * Base then Weight; locally a task goes to Spot when Spot has the Base, or the larger Weight.
 */
export function placedOnSpot(parameters: RunTaskParameters): boolean {
  const strategy = parameters.CapacityProviderStrategy ?? [];
  const spot = strategy.find((p) => p.CapacityProvider === 'FARGATE_SPOT');
  if (!spot || parameters.LaunchType) return false;
  const onDemand = strategy.find((p) => p.CapacityProvider === 'FARGATE');
  if (!onDemand) return true;
  if ((spot.Base ?? 0) !== (onDemand.Base ?? 0)) return (spot.Base ?? 0) > (onDemand.Base ?? 0);
  return (spot.Weight ?? 0) > (onDemand.Weight ?? 0);
}

/** The worker's summary log line (`"summary": true`), if this line is one. */
function summaryOf(line: string): Record<string, unknown> | undefined {
  if (!line.includes('"summary"')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return isPlainObject(parsed) && parsed.summary === true ? parsed : undefined;
  } catch {
    return undefined;
  }
}
