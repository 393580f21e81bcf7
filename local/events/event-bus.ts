import { randomUUID } from 'node:crypto';

import { targetInputFor } from '../../shared/input-transformer';
import type { Clock } from '../clock';
import { compileEventPattern } from './event-pattern';
import type { EventRule, EventRuleTarget } from './rule-template';
import {
  type DeadLetterQueue,
  DeliveryError,
  localFailure,
  startExecutionError,
  TargetDelivery,
  type UndeliveredEvent,
} from './target-delivery';

/**
 * The default event bus with every rule of the template, locally: an event put on the bus goes to
 * each ENABLED rule whose pattern it matches, and from each to every target of that rule, with the
 * target's input (Input, InputPath or InputTransformer) and EventBridge's retries and dead-letter
 * queue per target. The bus calls the target services only through `targets`, so it knows nothing
 * of how the pipeline runs them.
 */

/** The target services, as the pipeline hands them in. */
export interface EventTargets<T> {
  /**
   * StartExecution of `stateMachineArn` with the target input; `event` is the original event, for
   * the record. Throws a DeliveryError, or the service's AwsServiceError, when it cannot start.
   */
  startExecution(stateMachineArn: string, input: unknown, event: unknown): Promise<T>;
  /** SendMessage to the queue, with the target input's JSON as the body; throws as startExecution does. */
  sendMessage(queueArn: string, body: string): Promise<unknown>;
}

export interface LocalEventBusOptions<T> {
  readonly rules: readonly EventRule[];
  readonly targets: EventTargets<T>;
  /** Times the retries and the event-age limit, and each event's ingestion time. */
  readonly clock: Clock;
  /** The jitter of the retries' backoff. @default Math.random */
  readonly random?: () => number;
  /** Rule states by rule name, over the template's: `DISABLED` as `aws events disable-rule` leaves it. */
  readonly ruleStates?: Readonly<Record<string, 'ENABLED' | 'DISABLED'>>;
  /** The dead-letter queue of a target's DeadLetterConfig ARN. */
  readonly deadLetterQueue?: (queueArn: string) => DeadLetterQueue;
  /**
   * The first N state-machine deliveries cannot start an execution at all, as if the state machine
   * were unavailable: every attempt for them fails, so EventBridge retries and then dead-letters them.
   */
  readonly startFailures?: number;
  /**
   * Whether an event some rule matched is never delivered, to any rule, as a best-effort event (Step
   * Functions' status changes) may never be emitted on AWS: fault injection (local/faults/).
   * @default - none is
   */
  readonly missed?: (event: unknown) => boolean;
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

interface RouteTarget {
  readonly target: EventRuleTarget;
  readonly delivery: TargetDelivery;
}

interface Route {
  readonly rule: EventRule;
  readonly matches: (event: unknown) => boolean;
  readonly targets: readonly RouteTarget[];
}

export class LocalEventBus<T> {
  private readonly routes: readonly Route[];
  private readonly undeliveredEvents: UndeliveredEvent[] = [];
  private startFailuresLeft: number;

  constructor(private readonly options: LocalEventBusOptions<T>) {
    this.startFailuresLeft = options.startFailures ?? 0;
    this.routes = options.rules.map((rule) => ({
      rule,
      matches: compileEventPattern(rule.eventPattern),
      targets: rule.targets.map((target) => ({
        target,
        delivery: new TargetDelivery({
          ruleArn: rule.arn,
          targetArn: target.arn,
          retryPolicy: target.retryPolicy,
          clock: options.clock,
          random: options.random,
          deadLetterQueue:
            target.deadLetterQueueArn === undefined
              ? undefined
              : options.deadLetterQueue?.(target.deadLetterQueueArn),
          onUndelivered: (undelivered) => this.report(undelivered),
        }),
      })),
    }));
  }

  /** Events whose delivery to some target is not settled yet (an attempt or retries under way). */
  get pending(): number {
    return this.routes.reduce(
      (sum, route) => sum + route.targets.reduce((count, { delivery }) => count + delivery.pending, 0),
      0,
    );
  }

  /** Events a target gave up on during this run. */
  undelivered(): readonly UndeliveredEvent[] {
    return this.undeliveredEvents;
  }

  /**
   * Puts `event` on the bus; resolves to the executions the first delivery attempts started, in the
   * order of the rules and their targets (failed attempts are retried, then dead-lettered).
   */
  async put(event: unknown): Promise<T[]> {
    const ingestionTime = new Date(this.options.clock.now()).toISOString();
    const deliveries: Array<Promise<T | undefined>> = [];
    const matched = this.routes.filter(
      ({ rule, matches }) =>
        (this.options.ruleStates?.[rule.name] ?? rule.state) !== 'DISABLED' && matches(event),
    );
    // A missed event is one AWS never emitted: no rule sees it (decided once, not per rule).
    if (matched.length > 0 && this.options.missed?.(event)) return [];
    for (const { rule, targets } of matched) {
      for (const { target, delivery } of targets) {
        const reserved = { ruleArn: rule.arn, ruleName: rule.name, ingestionTime };
        deliveries.push(delivery.deliver(event, this.attemptFor(target, event, reserved)));
      }
    }
    const started = await Promise.all(deliveries);
    return started.filter((result) => result !== undefined) as T[];
  }

  /** A bug in the local pipeline before the bus (S3 -> EventBridge): reported, not dead-lettered. */
  reportLocalFailure(
    source: unknown,
    error: unknown,
    { ruleArn, targetArn }: { readonly ruleArn: string; readonly targetArn: string },
  ): void {
    this.report(localFailure(ruleArn, targetArn, source, error));
  }

  /** One delivery attempt of `event` to `target`, as often as TargetDelivery makes it. */
  private attemptFor(
    target: EventRuleTarget,
    event: unknown,
    reserved: { ruleArn: string; ruleName: string; ingestionTime: string },
  ): () => Promise<T | undefined> {
    // Whether this event's StartExecution can never succeed is decided once, for all its attempts.
    const cannotStart = target.service === 'states' && this.takeStartFailure();
    return async () => {
      let input: unknown;
      try {
        input = targetInputFor(target.input, event, reserved);
      } catch (error) {
        // A target invocation failure that no retry can fix: straight to the dead-letter queue.
        throw new DeliveryError('INVALID_JSON', (error as Error).message, false);
      }
      if (target.service === 'sqs') {
        await this.options.targets.sendMessage(target.arn, JSON.stringify(input));
        return undefined;
      }
      if (cannotStart) throw startExecutionError(randomUUID());
      return this.options.targets.startExecution(target.arn, input, event);
    };
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
