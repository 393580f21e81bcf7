import { randomUUID } from 'node:crypto';

import { targetInputFor } from '../../shared/input-transformer';
import type { DeadLetterStore } from './dead-letter-store';
import { compileEventPattern } from './event-pattern';
import type { ObjectCreatedRule } from './rule-template';
import { DeliveryError, startExecutionError, TargetDelivery, type UndeliveredEvent } from './target-delivery';

/**
 * The default event bus with the template's one rule, locally: an event that matches the rule's
 * pattern (while the rule is ENABLED) gets the target's input (Input, InputPath or InputTransformer)
 * and is delivered to the target, with EventBridge's retries and dead-letter queue.
 */

export interface LocalEventBusOptions<T> {
  readonly rule: ObjectCreatedRule;
  /** `DISABLED` delivers no event, as `aws events disable-rule` does. @default 'ENABLED' */
  readonly ruleState?: 'ENABLED' | 'DISABLED';
  /** Factor applied to EventBridge's delivery backoff and event-age limit. @default 1e-4 */
  readonly deliveryRetryScale?: number;
  /** The target's dead-letter queue; undefined drops undeliverable events, as EventBridge does without one. */
  readonly deadLetters?: DeadLetterStore;
  /**
   * The first N events delivered cannot start an execution at all, as if the state machine were
   * unavailable: every delivery attempt for them fails, so EventBridge retries and then dead-letters them.
   */
  readonly startFailures?: number;
  /** The target: starts an execution with the target input; throws a DeliveryError when it cannot. */
  readonly startExecution: (input: unknown, event: unknown) => T;
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export class LocalEventBus<T> {
  private readonly matchesRule: (event: unknown) => boolean;
  private readonly delivery: TargetDelivery;
  private readonly undeliveredEvents: UndeliveredEvent[] = [];
  private startFailuresLeft: number;

  constructor(private readonly options: LocalEventBusOptions<T>) {
    this.matchesRule = compileEventPattern(options.rule.eventPattern);
    this.startFailuresLeft = options.startFailures ?? 0;
    this.delivery = new TargetDelivery({
      ruleArn: options.rule.ruleArn,
      targetArn: options.rule.targetArn,
      retryPolicy: options.rule.retryPolicy,
      retryScale: options.deliveryRetryScale,
      deadLetters: options.deadLetters,
      onUndelivered: (undelivered) => this.report(undelivered),
    });
  }

  /** Events whose delivery is being retried now. */
  get retrying(): number {
    return this.delivery.retrying;
  }

  /** Events the target gave up on during this run. */
  undelivered(): readonly UndeliveredEvent[] {
    return this.undeliveredEvents;
  }

  /**
   * Puts `event` on the bus; returns what the first delivery attempt started, if the rule matched and
   * that attempt succeeded (failed attempts are retried, then dead-lettered).
   */
  put(event: unknown): T | undefined {
    const { rule } = this.options;
    if (this.options.ruleState === 'DISABLED' || !this.matchesRule(event)) return undefined;
    // Whether this event's StartExecution can never succeed is decided once, for all its attempts.
    const cannotStart = this.takeStartFailure();
    return this.delivery.deliver(event, () => {
      let input: unknown;
      try {
        input = targetInputFor(rule.target, event, { ruleArn: rule.ruleArn, ruleName: rule.ruleName });
      } catch (error) {
        // A target invocation failure that no retry can fix: straight to the dead-letter queue.
        throw new DeliveryError('INVALID_JSON', (error as Error).message, false);
      }
      if (cannotStart) throw startExecutionError(randomUUID());
      return this.options.startExecution(input, event);
    });
  }

  /** A bug in the local pipeline before the bus (S3 -> EventBridge): reported, not dead-lettered. */
  reportLocalFailure(source: unknown, error: unknown): void {
    this.report({
      event: source,
      attributes: {
        RULE_ARN: this.options.rule.ruleArn,
        TARGET_ARN: this.options.rule.targetArn,
        ERROR_CODE: 'LocalPipelineError',
        ERROR_MESSAGE: String(error),
        RETRY_ATTEMPTS: '0',
      },
    });
  }

  private report(undelivered: UndeliveredEvent): void {
    this.undeliveredEvents.push(undelivered);
    this.options.onUndelivered?.(undelivered);
  }

  private takeStartFailure(): boolean {
    if (this.startFailuresLeft <= 0) return false;
    this.startFailuresLeft--;
    return true;
  }
}
