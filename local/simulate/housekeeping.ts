import type { Clock } from '../clock';
import { LocalEventBus } from '../events/event-bus';
import type { EventRule } from '../events/rule-template';
import type { LocalSchedule } from '../scheduler/schedule-template';
import { LocalScheduler } from '../scheduler/scheduler';
import type { LocalStateMachineResource } from '../stepfunctions/definitions';
import type { ExecutionRecord } from '../stepfunctions/executions';

/**
 * What runs beside a burst in the planner, from the template, as `npm start` runs it: every rule but
 * the object rule (the gate's cleanup and the object recorder, on "Step Functions Execution Status
 * Change" events) on the local event bus, and every schedule (the gate's reconciler, the records'
 * sweep) on the local scheduler, both starting
 * executions of the template's state machines on the planner's engine and clock. The planner's own
 * part is when: the schedules start at a phase drawn from the seed (the stack was deployed at some
 * moment before the burst), and `untilAtRest` decides when the gate has come to rest.
 */

export interface Housekeeping {
  readonly stateMachines: readonly LocalStateMachineResource[];
  readonly eventRules: readonly EventRule[];
  readonly schedules: readonly LocalSchedule[];
}

/** Scheduled runs after the last object ended, at most, while each still repairs something. */
const MAX_RUNS_AT_REST = 60;
/**
 * Runs of the most frequent schedule, at most, after the gate came to rest, while records stay open:
 * the records' sweep closes at most its page of them every 15 minutes, so a day's worth.
 */
const MAX_RUNS_FOR_RECORDS = 24 * 60;

export interface PlannerHousekeepingOptions {
  readonly housekeeping: Housekeeping;
  readonly clock: Clock;
  /** The schedules' phase, and EventBridge's and Scheduler's retries. */
  readonly random: () => number;
  /** StartExecution by state machine ARN (target-executions.ts). */
  readonly startExecution: (
    stateMachineArn: string,
    input: unknown,
    event?: unknown,
  ) => Promise<ExecutionRecord>;
  /** Whether a matched event is never delivered (the gate fault model's missed events). */
  readonly missed?: (event: unknown) => boolean;
}

export class PlannerHousekeeping {
  /** Executions started by the rules (the gate's cleanups) so far. */
  byRules = 0;
  /** Executions started by the schedules (the reconciler's runs) so far. */
  bySchedules = 0;
  private readonly bus: LocalEventBus<ExecutionRecord>;
  private scheduler: LocalScheduler<ExecutionRecord> | undefined;
  private readonly schedulerStarted: Promise<void>;
  private nextScheduled: Array<(record: ExecutionRecord) => void> = [];

  constructor(private readonly options: PlannerHousekeepingOptions) {
    const { housekeeping, clock, random, startExecution } = options;
    this.bus = new LocalEventBus<ExecutionRecord>({
      rules: housekeeping.eventRules,
      clock,
      random,
      missed: options.missed,
      targets: {
        startExecution: async (arn, input, event) => {
          this.byRules++;
          return startExecution(arn, input, event);
        },
        sendMessage: async (queueArn) => {
          throw new Error(`The planner delivers no events to queues (${queueArn})`);
        },
      },
    });
    const periodMs = Math.min(...housekeeping.schedules.map((schedule) => schedule.rate.intervalMs));
    // Rest is judged by the most frequent schedule's runs (the gate's reconciler, every minute): the
    // records' sweep, every 15 minutes, repairs nothing of the gate and says nothing of its rest.
    const judged = new Set(
      housekeeping.schedules
        .filter((schedule) => schedule.rate.intervalMs === periodMs)
        .map((schedule) => schedule.target.arn),
    );
    this.schedulerStarted = clock.sleep(Number.isFinite(periodMs) ? random() * periodMs : 0).then(() => {
      this.scheduler = new LocalScheduler({
        schedules: housekeeping.schedules,
        clock,
        random,
        startExecution: async (arn, input) => {
          const record = await startExecution(arn, input);
          this.bySchedules++;
          if (!judged.has(arn)) return record;
          const waiting = this.nextScheduled;
          this.nextScheduled = [];
          waiting.forEach((resolve) => resolve(record));
          return record;
        },
      });
    });
  }

  /** An event on the default bus (a status change): each matching rule starts its target. */
  put(event: unknown): void {
    void this.bus.put(event);
  }

  /**
   * Once every object has ended (at `lastEnded`), lets the scheduled runs go on until one of the most
   * frequent schedule that started after it repairs nothing (`repairs` counts what was repaired so
   * far): each run repairs what it finds, and nothing else runs to undo it. Then, while
   * `recordsOpen()` (records whose ending the recorder never heard, a status-change event missed),
   * they go on for the records' sweep to close them. Then the schedules stop.
   */
  async untilAtRest(
    lastEnded: number,
    finished: (record: ExecutionRecord) => Promise<void>,
    repairs: () => number,
    recordsOpen: () => boolean,
  ): Promise<void> {
    await this.schedulerStarted;
    const scheduling = this.options.housekeeping.schedules.some((schedule) => schedule.state !== 'DISABLED');
    const nextRun = async () => {
      const record = await new Promise<ExecutionRecord>((resolve) => this.nextScheduled.push(resolve));
      await finished(record);
      return record;
    };
    for (let run = 0; run < MAX_RUNS_AT_REST && scheduling; run++) {
      const before = repairs();
      const record = await nextRun();
      if (record.startDate >= lastEnded && repairs() === before) break;
    }
    for (let run = 0; run < MAX_RUNS_FOR_RECORDS && scheduling && recordsOpen(); run++) await nextRun();
    this.scheduler?.stop();
  }

  /** Deliveries and invocations not settled yet (under way, or waiting to be retried). */
  get pending(): number {
    return this.bus.pending + (this.scheduler?.pending ?? 0);
  }
}
