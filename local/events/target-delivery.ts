import type { DeadLetterAttributes, DeadLetterStore } from './dead-letter-store';
import type { TargetRetryPolicy } from './rule-template';

/**
 * EventBridge's delivery of a matched event to the rule target: an attempt that fails with a
 * retriable error is retried with exponential backoff and jitter until the target's RetryPolicy runs
 * out (MaximumRetryAttempts or MaximumEventAgeInSeconds, whichever first); a non-retriable error is
 * not retried. Then the ORIGINAL event goes to the target's dead-letter queue with EventBridge's
 * attributes, or is dropped when the target has none
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 *
 * EventBridge does not publish its backoff schedule; locally a retry waits a random time up to
 * min(1 s x 2^retry, 5 min) ("full jitter"), times `retryScale`. The default scale, 1e-4, runs a
 * day of retries in under 9 s and 185 attempts in about 3 s; Step Functions' retry intervals have
 * their own, larger scale because their backoff is minutes, not a day.
 */

export const DEFAULT_DELIVERY_RETRY_SCALE = 1e-4;
const FIRST_BACKOFF_MS = 1000;
const LONGEST_BACKOFF_MS = 5 * 60 * 1000;

/** A failed delivery attempt, named by the ERROR_CODE EventBridge reports for it. */
export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
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

export interface UndeliveredEvent {
  readonly event: unknown;
  readonly attributes: DeadLetterAttributes;
  /** The dead-letter file, or undefined when the target has no dead-letter queue (the event is dropped). */
  readonly file?: string;
}

export interface TargetDeliveryOptions {
  readonly ruleArn: string;
  readonly targetArn: string;
  readonly retryPolicy: TargetRetryPolicy;
  /** @default DEFAULT_DELIVERY_RETRY_SCALE */
  readonly retryScale?: number;
  /** The target's dead-letter queue; undefined drops events as EventBridge does without one. */
  readonly deadLetters?: DeadLetterStore;
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export class TargetDelivery {
  private inFlight = 0;

  constructor(private readonly options: TargetDeliveryOptions) {}

  /** Events whose delivery is being retried now. */
  get retrying(): number {
    return this.inFlight;
  }

  /**
   * Makes the first attempt now and returns its result; if it fails, returns undefined and goes on
   * in the background (see `retrying`). `attempt` throws a DeliveryError when delivery fails.
   */
  deliver<T>(event: unknown, attempt: () => T): T | undefined {
    try {
      return attempt();
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      if (!error.retriable) {
        this.giveUp(event, error, 0);
        return undefined;
      }
      this.inFlight++;
      void this.retry(event, error, attempt).finally(() => this.inFlight--);
      return undefined;
    }
  }

  private async retry(event: unknown, firstError: DeliveryError, attempt: () => unknown): Promise<void> {
    const { retryPolicy } = this.options;
    const scale = this.options.retryScale ?? DEFAULT_DELIVERY_RETRY_SCALE;
    const maxAgeMs = retryPolicy.maximumEventAgeInSeconds * 1000 * scale;
    const firstAttemptAt = Date.now();
    let error = firstError;
    for (let retries = 0; ; retries++) {
      if (!error.retriable) return this.giveUp(event, error, retries);
      if (retries >= retryPolicy.maximumRetryAttempts) {
        return this.giveUp(event, error, retries, 'MaximumRetryAttempts');
      }
      const backoffMs = Math.random() * Math.min(LONGEST_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** retries) * scale;
      if (Date.now() - firstAttemptAt + backoffMs > maxAgeMs) {
        return this.giveUp(event, error, retries, 'MaximumEventAgeInSeconds');
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      try {
        attempt();
        return;
      } catch (next) {
        if (!(next instanceof DeliveryError)) throw next;
        error = next;
      }
    }
  }

  private giveUp(
    event: unknown,
    error: DeliveryError,
    retries: number,
    exhausted?: DeadLetterAttributes['EXHAUSTED_RETRY_CONDITION'],
  ): void {
    const attributes: DeadLetterAttributes = {
      RULE_ARN: this.options.ruleArn,
      TARGET_ARN: this.options.targetArn,
      ERROR_CODE: error.code,
      ERROR_MESSAGE: error.message,
      ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}),
      RETRY_ATTEMPTS: String(retries),
    };
    const file = this.options.deadLetters?.put(event, attributes);
    this.options.onUndelivered?.({ event, attributes, file });
  }
}
