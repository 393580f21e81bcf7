import { StatesError } from '../stepfunctions/errors';

/**
 * Fault injection for the local ECS task runner: the launch failures Fargate produces that a laptop
 * never does, so the state machine's Retry, Catch and Spot fallback paths can be seen working; and a
 * crashing worker, so failed executions can be listed and redriven.
 * Counters are global to the pipeline (like account-wide throttling), not per execution.
 */

export type LaunchErrorKind = 'throttling' | 'capacity';

export interface LaunchFaultOptions {
  /** The first `count` task launches fail with this error instead of starting. */
  readonly launchErrors?: { readonly kind: LaunchErrorKind; readonly count: number };
  /** The first N tasks placed on FARGATE_SPOT are interrupted (SIGTERM, StopCode SpotInterruption). */
  readonly spotInterruptions?: number;
  /** The first N tasks that start exit 1, as a crashing worker would (States.TaskFailed). */
  readonly taskFailures?: number;
}

/**
 * What Step Functions raises when RunTask itself fails (measured on AWS): throttling surfaces as
 * `ECS.AmazonECSException`, missing Fargate capacity as `AmazonECS.Unknown`.
 */
export function launchError(kind: LaunchErrorKind, requestId: string): StatesError {
  return kind === 'throttling'
    ? new StatesError(
        'ECS.AmazonECSException',
        `Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException; Request ID: ${requestId}; Proxy: null)`,
      )
    : new StatesError(
        'AmazonECS.Unknown',
        'Capacity is unavailable at this time. Please try again later or in a different availability zone ' +
          `(Service: AmazonECS; Status Code: 400; Error Code: Unknown; Request ID: ${requestId}; Proxy: null)`,
      );
}

export class LaunchFaults {
  private launchErrorsLeft: number;
  private spotInterruptionsLeft: number;
  private taskFailuresLeft: number;

  constructor(private readonly options: LaunchFaultOptions = {}) {
    this.launchErrorsLeft = options.launchErrors?.count ?? 0;
    this.spotInterruptionsLeft = options.spotInterruptions ?? 0;
    this.taskFailuresLeft = options.taskFailures ?? 0;
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
