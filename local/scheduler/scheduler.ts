import { randomBytes } from 'node:crypto';

import { AwsServiceError } from '../aws-service';
import type { Clock } from '../clock';
import { localFailure, TargetDelivery, type UndeliveredEvent } from '../events/target-delivery';
import { firstInvocation } from './schedule-expression';
import type { LocalSchedule } from './schedule-template';

/**
 * EventBridge Scheduler, locally: each ENABLED schedule invokes its state machine on the Clock, at
 * its rate from its StartDate (or from the start, without one) until its EndDate, each invocation a
 * random point into its flexible time window, and retried as its RetryPolicy says (the same backoff
 * as EventBridge's targets: target-delivery.ts). AWS invokes within the minute of the scheduled
 * time; locally it is the exact time, so tests on a VirtualClock can assert it.
 */

export interface LocalSchedulerOptions<T> {
  readonly schedules: readonly LocalSchedule[];
  readonly clock: Clock;
  /** StartExecution of the schedule's state machine; throws the service's AwsServiceError when it cannot. */
  readonly startExecution: (stateMachineArn: string, input: unknown) => Promise<T>;
  /** The flexible window's and the retries' randomness. @default Math.random */
  readonly random?: () => number;
  /** An invocation the schedule gave up on (no dead-letter queue locally: see schedule-template.ts). */
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

/** What an undelivered invocation is reported with, in place of an event. */
export interface ScheduledInvocation {
  readonly scheduleArn: string;
  /** ISO 8601 to the second, as `<aws.scheduler.scheduled-time>`. */
  readonly scheduledTime: string;
}

export class LocalScheduler<T> {
  private readonly stopped = new AbortController();
  private readonly deliveries: TargetDelivery[] = [];

  constructor(private readonly options: LocalSchedulerOptions<T>) {
    for (const schedule of options.schedules) {
      if (schedule.state === 'DISABLED') continue;
      const delivery = new TargetDelivery({
        ruleArn: schedule.arn,
        targetArn: schedule.target.arn,
        retryPolicy: schedule.target.retryPolicy,
        clock: options.clock,
        random: options.random,
        onUndelivered: options.onUndelivered,
      });
      this.deliveries.push(delivery);
      void this.run(schedule, delivery);
    }
  }

  /** Invocations not yet delivered or given up on. */
  get pending(): number {
    return this.deliveries.reduce((sum, delivery) => sum + delivery.pending, 0);
  }

  /** No schedule invokes again; invocations under way finish (see `pending`). */
  stop(): void {
    this.stopped.abort(new Error('The local scheduler stopped'));
  }

  private async run(schedule: LocalSchedule, delivery: TargetDelivery): Promise<void> {
    const { clock } = this.options;
    const random = this.options.random ?? Math.random;
    const { intervalMs } = schedule.rate;
    let due = firstInvocation(schedule.rate, clock.now(), schedule.startDate);
    for (; schedule.endDate === undefined || due <= schedule.endDate; due += intervalMs) {
      const at = due + random() * schedule.flexibleWindowMs;
      try {
        await clock.sleep(at - clock.now(), this.stopped.signal);
      } catch {
        return; // stopped
      }
      const invocation: ScheduledInvocation = {
        scheduleArn: schedule.arn,
        scheduledTime: new Date(due).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      delivery
        .deliver(invocation, this.attemptFor(schedule, invocation))
        .catch((bug: unknown) =>
          this.options.onUndelivered?.(localFailure(schedule.arn, schedule.target.arn, invocation, bug)),
        );
    }
  }

  /** One attempt of an invocation: the Input with its context attributes filled in, then StartExecution. */
  private attemptFor(schedule: LocalSchedule, invocation: ScheduledInvocation): () => Promise<T> {
    const executionId = randomBytes(8).toString('hex');
    let attemptNumber = 0;
    return async () => {
      attemptNumber++;
      const context: Record<string, string> = {
        'schedule-arn': invocation.scheduleArn,
        'scheduled-time': invocation.scheduledTime,
        'execution-id': executionId,
        'attempt-number': String(attemptNumber),
      };
      const text = (schedule.target.input ?? '{}').replace(
        /<aws\.scheduler\.([a-z-]+)>/g,
        (placeholder, name: string) => context[name] ?? placeholder,
      );
      let input: unknown;
      try {
        input = JSON.parse(text);
      } catch (error) {
        // What StartExecution answers for input that is not JSON; not retried.
        throw new AwsServiceError(
          'InvalidExecutionInput',
          `Invalid State Machine Execution Input: '${(error as Error).message}'`,
        );
      }
      return this.options.startExecution(schedule.target.arn, input);
    };
  }
}
