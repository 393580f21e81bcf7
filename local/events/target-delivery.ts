import { AwsServiceError } from '../aws-service';
import type { Clock } from '../clock';
import type { DeadLetterAttributes } from './dead-letter-store';
import type { TargetRetryPolicy } from './rule-template';

/**
 * EventBridge's delivery of a matched event to one rule target (and a schedule's invocation of its
 * target: EventBridge Scheduler retries by the same RetryPolicy): an attempt that fails with a
 * retriable error is retried with exponential backoff and jitter until the target's RetryPolicy runs
 * out (MaximumRetryAttempts or MaximumEventAgeInSeconds, whichever first); a non-retriable error is
 * not retried. Then the ORIGINAL event goes to the target's dead-letter queue with EventBridge's
 * attributes, or is dropped when the target has none
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 *
 * EventBridge does not publish its backoff schedule, only that it is "exponential back off and
 * jitter"; locally retry n (from 0) waits random() x min(1 s x 2^n, 5 min) ("full jitter") of the
 * Clock's time, so a VirtualClock and a fixed `random` give exact retry times.
 */

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

/**
 * A target service's refusal as EventBridge treats it: throttling and server errors are retried;
 * a missing target or permission is not ("no retry attempts will happen until action is taken"),
 * nor is any other client error, which the same request would meet again.
 */
export function deliveryErrorOf(error: AwsServiceError): DeliveryError {
  const message = `${error.message} (Error Code: ${error.code}; Status Code: ${error.statusCode})`;
  if (error.code === 'ThrottlingException' || error.statusCode === 429) {
    return new DeliveryError('THROTTLING', message, true);
  }
  if (error.statusCode >= 500) return new DeliveryError('SDK_CLIENT_ERROR', message, true);
  if (/^AccessDenied/.test(error.code)) return new DeliveryError('NO_PERMISSIONS', message, false);
  if (/DoesNotExist$|NotFound/.test(error.code))
    return new DeliveryError('RESOURCE_NOT_FOUND', message, false);
  return new DeliveryError('SDK_CLIENT_ERROR', message, false);
}

/** Where a target's undeliverable events go: the local dead-letter store, or an SQS queue. */
export interface DeadLetterQueue {
  /** Stores `event` with EventBridge's attributes; returns where it went (a file, a message ID). */
  put(event: unknown, attributes: DeadLetterAttributes): string | Promise<string>;
}

export interface UndeliveredEvent {
  readonly event: unknown;
  readonly attributes: DeadLetterAttributes;
  /** Where the dead letter went, or undefined when the target has no dead-letter queue (the event is dropped). */
  readonly file?: string;
}

export interface TargetDeliveryOptions {
  /** The rule's ARN (a schedule's, for the scheduler): RULE_ARN of the dead letters. */
  readonly ruleArn: string;
  readonly targetArn: string;
  readonly retryPolicy: TargetRetryPolicy;
  /** The time retries wait on and the event's age is measured by. */
  readonly clock: Clock;
  /** The jitter: a number in [0, 1) per retry. @default Math.random */
  readonly random?: () => number;
  /** The target's dead-letter queue; undefined drops events as EventBridge does without one. */
  readonly deadLetterQueue?: DeadLetterQueue;
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export class TargetDelivery {
  private inFlight = 0;

  constructor(private readonly options: TargetDeliveryOptions) {}

  /** Events not yet delivered, dead-lettered or dropped. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Makes the first attempt and resolves to its result; if it fails, resolves to undefined and goes
   * on in the background (see `pending`). `attempt` throws a DeliveryError, or a target service's
   * AwsServiceError, when delivery fails; any other error is a local bug and rejects.
   */
  async deliver<T>(event: unknown, attempt: () => Promise<T>): Promise<T | undefined> {
    this.inFlight++;
    const firstAttemptAt = this.options.clock.now();
    try {
      return await attempt();
    } catch (thrown) {
      const error = asDeliveryError(thrown);
      if (error.retriable) {
        this.inFlight++;
        void this.retry(event, error, attempt, firstAttemptAt)
          .catch((bug: unknown) => this.reportLocalFailure(event, bug))
          .finally(() => this.inFlight--);
      } else {
        await this.giveUp(event, error, 0);
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  private async retry(
    event: unknown,
    firstError: DeliveryError,
    attempt: () => Promise<unknown>,
    firstAttemptAt: number,
  ): Promise<void> {
    const { retryPolicy, clock } = this.options;
    const random = this.options.random ?? Math.random;
    const maxAgeMs = retryPolicy.maximumEventAgeInSeconds * 1000;
    let error = firstError;
    for (let retries = 0; ; retries++) {
      if (!error.retriable) return this.giveUp(event, error, retries);
      if (retries >= retryPolicy.maximumRetryAttempts) {
        return this.giveUp(event, error, retries, 'MaximumRetryAttempts');
      }
      const backoffMs = random() * Math.min(LONGEST_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** retries);
      if (clock.now() - firstAttemptAt + backoffMs > maxAgeMs) {
        return this.giveUp(event, error, retries, 'MaximumEventAgeInSeconds');
      }
      await clock.sleep(backoffMs);
      try {
        await attempt();
        return;
      } catch (thrown) {
        error = asDeliveryError(thrown);
      }
    }
  }

  private async giveUp(
    event: unknown,
    error: DeliveryError,
    retries: number,
    exhausted?: DeadLetterAttributes['EXHAUSTED_RETRY_CONDITION'],
  ): Promise<void> {
    const attributes: DeadLetterAttributes = {
      RULE_ARN: this.options.ruleArn,
      TARGET_ARN: this.options.targetArn,
      ERROR_CODE: error.code,
      ERROR_MESSAGE: error.message,
      ...(exhausted ? { EXHAUSTED_RETRY_CONDITION: exhausted } : {}),
      RETRY_ATTEMPTS: String(retries),
    };
    const file = await this.options.deadLetterQueue?.put(event, attributes);
    this.options.onUndelivered?.({ event, attributes, file });
  }

  /** A bug in the local pipeline during a retry: reported, never dead-lettered (AWS would not have it). */
  private reportLocalFailure(event: unknown, error: unknown): void {
    this.options.onUndelivered?.(localFailure(this.options.ruleArn, this.options.targetArn, event, error));
  }
}

/** A bug in the local pipeline, reported as an undelivered event that no dead-letter queue gets. */
export function localFailure(
  ruleArn: string,
  targetArn: string,
  event: unknown,
  error: unknown,
): UndeliveredEvent {
  return {
    event,
    attributes: {
      RULE_ARN: ruleArn,
      TARGET_ARN: targetArn,
      ERROR_CODE: 'LocalPipelineError',
      ERROR_MESSAGE: String(error),
      RETRY_ATTEMPTS: '0',
    },
  };
}

function asDeliveryError(thrown: unknown): DeliveryError {
  if (thrown instanceof DeliveryError) return thrown;
  if (thrown instanceof AwsServiceError) return deliveryErrorOf(thrown);
  throw thrown;
}
