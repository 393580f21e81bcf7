import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * How a RunTask that Fargate refused "for now" is retried: the account's quotas (6 vCPU at once,
 * 20 launches a second) are far below the rate S3 can upload objects, so a burst waits for capacity
 * rather than failing.
 *
 * Every name Step Functions gives a "not now" refusal is retried. `ECS.AmazonECSException`:
 * throttled RunTask calls and launches ("Rate exceeded", ThrottlingException), and "Capacity is
 * unavailable" as AWS's knowledge center reports it. `AmazonECS.Unknown`: a RunTask whose `Failures`
 * list is not empty, which is how the vCPU quota ("You've reached the limit on the number of vCPUs
 * you can run concurrently"), missing capacity and ENI shortages come back. A worker that ran and
 * exited non-zero fails with `States.TaskFailed`, which is never retried here: it would repeat a
 * deterministic failure.
 */
export const CAPACITY_ERRORS = ['ECS.AmazonECSException', 'AmazonECS.Unknown'];
/**
 * Subnet address or ENI shortages can also come back as `ECS.InvalidParameterException`, the name
 * of a bad request too. It gets its own, shorter window so a misconfiguration fails within the hour
 * instead of stalling every object for the whole capacity wait.
 */
export const INVALID_PARAMETER_ERRORS = ['ECS.InvalidParameterException'];
export const INVALID_PARAMETER_WAIT = Duration.minutes(30);
/** Every launch error class: what `spot-with-fallback` falls back on once Spot's retries are spent. */
export const LAUNCH_ERRORS = [...CAPACITY_ERRORS, ...INVALID_PARAMETER_ERRORS];

/**
 * The backoff: first retry within 5 s, doubling, capped at 5 minutes. Only executions holding a
 * launch slot (lib/launch-gate.ts) call RunTask, so at most `slots` of them retry at once: 24 on a
 * default account. A refusal there means the account has less free capacity than the gate's
 * fargateVcpuQuota says (another workload holds vCPU), or Fargate has none: the tasks already
 * running keep handing their slots on meanwhile, so the cap costs only the retrying objects' own
 * time. Over a 12-hour wait that is under 300 attempts, under 1,000 history events per run, far
 * below Step Functions' 25,000; longer waits are capped by launchAttemptCap. `npm run simulate` shows the trade-off; docs/bursts-and-quotas.md.
 */
export const LAUNCH_BACKOFF = {
  intervalSeconds: 5,
  backoffRate: 2,
  maxDelaySeconds: 300,
} as const;

/** Spot's own wait in `spot-with-fallback`, before the task falls back to on-demand. */
export const SPOT_CAPACITY_WAIT = Duration.minutes(5);

/** Step Functions ends a Standard execution that reaches this many history events. */
export const HISTORY_EVENT_LIMIT = 25_000;
/**
 * Events a RunTask attempt adds at most: TaskScheduled, TaskStarted and TaskFailed (a refused
 * launch), or TaskSubmitted and the outcome for one that ran.
 */
export const EVENTS_PER_LAUNCH_ATTEMPT = 4;
/**
 * Events left to everything but the launch attempts: each state entered and left, the gate's calls
 * with every retry (under 400 for its eight Task states at 7 attempts of 4 events), the relaunch
 * choices. test/lib/process-object-step.test.ts counts the definition's worst case against the limit.
 */
export const HISTORY_EVENTS_RESERVED = 1_000;

/**
 * The most RunTask attempts one entry of a run state may make (every retrier's together, the first
 * included) when an execution enters run states `runs` times at most, so that no execution passes
 * HISTORY_EVENT_LIMIT: at capacityWaitMinutes' maximum the capacity retries would otherwise reach
 * about 4,000 a run.
 */
export function launchAttemptCap(runs: number): number {
  return Math.floor((HISTORY_EVENT_LIMIT - HISTORY_EVENTS_RESERVED) / (EVENTS_PER_LAUNCH_ATTEMPT * runs)) - 1;
}

/**
 * A retrier for `errors` whose mean total wait is at least `wait`, or `maxAttempts` retries if that
 * is fewer (see launchAttemptCap).
 */
export function launchRetry(errors: string[], wait: Duration, maxAttempts = Infinity): sfn.RetryProps {
  return {
    errors,
    interval: Duration.seconds(LAUNCH_BACKOFF.intervalSeconds),
    backoffRate: LAUNCH_BACKOFF.backoffRate,
    maxDelay: Duration.seconds(LAUNCH_BACKOFF.maxDelaySeconds),
    maxAttempts: Math.min(attemptsFor(wait.toSeconds()), maxAttempts),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/** The delay ceiling before retry `attempt` (0-based), as Step Functions computes it before jitter. */
export function delayCeilingSeconds(attempt: number): number {
  const { intervalSeconds, backoffRate, maxDelaySeconds } = LAUNCH_BACKOFF;
  return Math.min(intervalSeconds * backoffRate ** attempt, maxDelaySeconds);
}

/** The fewest retries whose mean total delay (half of each ceiling, under full jitter) reaches `seconds`. */
export function attemptsFor(seconds: number): number {
  let attempts = 0;
  for (let mean = 0; mean < seconds; attempts++) mean += delayCeilingSeconds(attempts) / 2;
  return Math.max(attempts, 1);
}

/** The longest a retrier of `attempts` can wait: every jittered delay at its ceiling. */
export function worstWaitSeconds(attempts: number): number {
  let total = 0;
  for (let attempt = 0; attempt < attempts; attempt++) total += delayCeilingSeconds(attempt);
  return total;
}
