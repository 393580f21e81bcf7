import { StatesError } from '../stepfunctions/errors';
import { NO_CAPACITY_REASON, throttlingError, unknownLaunchError } from './fargate-quotas';

/**
 * Fault injection for the local ECS task runner: the launch failures Fargate produces that a laptop
 * never does, so the state machine's Retry, Catch and Spot fallback paths can be seen working; and a
 * crashing worker, so failed executions can be listed and redriven.
 * Counters are global to the pipeline (like account-wide throttling), not per execution.
 */

/**
 * `throttling`: ECS.AmazonECSException (ThrottlingException). `capacity`: no capacity as a non-empty
 * `Failures` list, AmazonECS.Unknown. `capacity-exception`: no capacity as AWS's knowledge center
 * reports it, ECS.AmazonECSException.
 */
export type LaunchErrorKind = 'throttling' | 'capacity' | 'capacity-exception';
export const LAUNCH_ERROR_KINDS: readonly LaunchErrorKind[] = [
  'throttling',
  'capacity',
  'capacity-exception',
];

export interface LaunchFaultOptions {
  /** The first `count` task launches fail with this error instead of starting. */
  readonly launchErrors?: { readonly kind: LaunchErrorKind; readonly count: number };
  /** The first N tasks placed on FARGATE_SPOT are interrupted (SIGTERM, StopCode SpotInterruption). */
  readonly spotInterruptions?: number;
  /** The first N tasks launched stop before their container runs (StopCode TaskFailedToStart). */
  readonly failedToStart?: number;
  /** The first N tasks that start exit 1, as a crashing worker would (States.TaskFailed). */
  readonly taskFailures?: number;
}

/** What Step Functions raises when RunTask itself fails, under each name it uses. */
export function launchError(kind: LaunchErrorKind, requestId: string): StatesError {
  const { name, cause } =
    kind === 'throttling'
      ? throttlingError(requestId)
      : kind === 'capacity'
        ? unknownLaunchError(NO_CAPACITY_REASON, requestId)
        : {
            name: 'ECS.AmazonECSException',
            cause: `${NO_CAPACITY_REASON} (Service: AmazonECS; Status Code: 400; Error Code: AmazonECSException; Request ID: ${requestId}; Proxy: null)`,
          };
  return new StatesError(name, cause);
}

export class LaunchFaults {
  private launchErrorsLeft: number;
  private spotInterruptionsLeft: number;
  private failedToStartLeft: number;
  private taskFailuresLeft: number;

  constructor(private readonly options: LaunchFaultOptions = {}) {
    this.launchErrorsLeft = options.launchErrors?.count ?? 0;
    this.spotInterruptionsLeft = options.spotInterruptions ?? 0;
    this.failedToStartLeft = options.failedToStart ?? 0;
    this.taskFailuresLeft = options.taskFailures ?? 0;
  }

  /** Whether this launched task is to stop before its container runs. */
  takeFailedToStart(): boolean {
    if (this.failedToStartLeft <= 0) return false;
    this.failedToStartLeft--;
    return true;
  }

  /** Whether this task's container is to crash (exit 1) instead of running the worker. */
  takeTaskFailure(): boolean {
    if (this.taskFailuresLeft <= 0) return false;
    this.taskFailuresLeft--;
    return true;
  }

  /** The launch error to raise for this launch, if any remain. */
  takeLaunchError(): LaunchErrorKind | undefined {
    if (this.launchErrorsLeft <= 0 || !this.options.launchErrors) return undefined;
    this.launchErrorsLeft--;
    return this.options.launchErrors.kind;
  }

  /** Whether this Spot task is to be interrupted. */
  takeSpotInterruption(): boolean {
    if (this.spotInterruptionsLeft <= 0) return false;
    this.spotInterruptionsLeft--;
    return true;
  }
}
