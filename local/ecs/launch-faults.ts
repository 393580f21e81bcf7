import { DeliveryError } from './target-delivery';

/**
 * Fault injection for the local ECS task runner and the rule target: the failures Fargate and
 * EventBridge produce that a laptop never does, so the state machine's Retry, Catch and Spot fallback
 * paths, and the target's retries and dead-letter queue, can be seen working.
 * Counters are global to the pipeline (like account-wide throttling), not per execution.
 */

export type LaunchErrorKind = 'throttling' | 'capacity';

export interface FaultOptions {
  /** The first `count` task launches fail with this error instead of starting. */
  readonly launchErrors?: { readonly kind: LaunchErrorKind; readonly count: number };
  /** The first N tasks placed on FARGATE_SPOT are interrupted (SIGTERM, StopCode SpotInterruption). */
  readonly spotInterruptions?: number;
  /**
   * The first N events the rule delivers cannot start an execution at all, as if the state machine were
   * unavailable: every delivery attempt for them fails, so EventBridge retries and then dead-letters them.
   */
  readonly startFailures?: number;
}

/** An error as Step Functions reports it for a failed service integration: matched by `name`. */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
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

/**
 * What EventBridge reports when StartExecution keeps failing as if the state machine were unavailable:
 * Step Functions throttles (ThrottlingException), a retriable error, reported as ERROR_CODE THROTTLING.
 */
export function startExecutionError(requestId: string): DeliveryError {
  return new DeliveryError(
    'THROTTLING',
    `Rate exceeded (Service: AWSStepFunctions; Status Code: 400; Error Code: ThrottlingException; Request ID: ${requestId})`,
    true,
  );
}

export class FaultInjector {
  private launchErrorsLeft: number;
  private spotInterruptionsLeft: number;
  private startFailuresLeft: number;

  constructor(private readonly options: FaultOptions = {}) {
    this.launchErrorsLeft = options.launchErrors?.count ?? 0;
    this.spotInterruptionsLeft = options.spotInterruptions ?? 0;
    this.startFailuresLeft = options.startFailures ?? 0;
  }

  /** Whether this event is one that can never start an execution (asked once per event). */
  takeStartFailure(): boolean {
    if (this.startFailuresLeft <= 0) return false;
    this.startFailuresLeft--;
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
