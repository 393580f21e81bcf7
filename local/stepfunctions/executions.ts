import { randomUUID } from 'node:crypto';

import { isPlainObject } from '../cloudformation/intrinsics';
import type { TaskAttempt } from '../ecs/task-runner';
import type { LocalStateMachineResource, StateMachineDefinition } from './definitions';
import { ExecutionAlreadyExists, StatesError } from './errors';
import { type ExecutionJournal, type JournalEntry } from './execution-journal';
import { ExecutionQueue } from './execution-queue';
import type { LocalServices } from './integrations';
import { EXECUTION_TIMEOUT_CAUSE, LocalStateMachine } from './state-machine';
import { TaskTokens } from './task-tokens';

/**
 * Step Functions, locally: StartExecution (names unique per state machine, as on AWS), one
 * LocalStateMachine per definition and the execution records. Every execution starts at once, as on
 * AWS: nothing queues them, so what bounds the tasks running at once is Fargate's quota in the local
 * ECS. `ecs:runTask.sync` states are served by the caller's `runTask` (the pipeline wires it to the
 * local ECS), the others by `services`; task tokens are shared by every state machine, as they are
 * per account on AWS (a workflow execution may hand its slot to a backfill item).
 */

export type ExecutionStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface ExecutionRecord {
  readonly name: string;
  readonly executionArn: string;
  /** The EventBridge event that started it; undefined for a backfill item. */
  readonly event: unknown;
  /** The execution input (the rule target's input for the event, or the backfill item). */
  readonly input: unknown;
  readonly bucket: string;
  readonly key: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  output?: unknown;
  /** From start to stop of the execution. */
  durationMs?: number;
  /** Every task launch, in order, with the state that made it. */
  readonly attempts: TaskAttempt[];
  /** Every wait of a `.waitForTaskToken` state (the launch gate's line), in order. */
  readonly tokenWaits: Array<{ readonly stateName: string; readonly waitedMs: number }>;
  /** Where the worker wrote its result, by the worker's contract; undefined when it wrote none. */
  result?: { readonly bucket: string; readonly key: string };
}

export interface StartExecutionOptions {
  /** Unique per state machine, as in Step Functions. @default a random UUID */
  readonly name?: string;
  /** The event the input was made from, for the record. */
  readonly event?: unknown;
}

export interface RunExecutionOptions {
  readonly name: string;
  /** The ARN the execution belongs to (its execution ARN is derived from it). */
  readonly stateMachineArn: string;
  /** For a backfill item: the backfill run it belongs to, for the journal. */
  readonly backfillRunArn?: string;
}

/** One task state to serve for an execution. */
export interface TaskInvocation {
  readonly record: ExecutionRecord;
  readonly stateName: string;
  readonly parameters: unknown;
  /** The state's TimeoutSeconds, when it has one. */
  readonly timeoutSeconds?: number;
}

export interface LocalStepFunctionsOptions {
  /** Factor applied to Retry intervals. @default 0.01 */
  readonly retryIntervalScale?: number;
  /** Serves a task state: returns its result, or throws an error named as Step Functions names it. */
  readonly runTask: (task: TaskInvocation) => Promise<unknown>;
  /** Awaited when an execution has finished (SUCCEEDED or FAILED), before it counts as done. */
  readonly onExecutionFinished?: (record: ExecutionRecord) => Promise<void>;
  /** Where every execution is recorded, across runs; names already in it cannot be used again. */
  readonly journal?: ExecutionJournal;
  /** What serves the Task states other than `ecs:runTask.sync` (DynamoDB, SQS). @default - none */
  readonly services?: Omit<LocalServices, 'tokens'>;
}

export class LocalStepFunctions {
  private readonly records: ExecutionRecord[] = [];
  /** Execution ARNs so far: a name is unique per state machine, as in Step Functions. */
  private readonly startedArns = new Set<string>();
  private readonly machines = new Map<StateMachineDefinition, LocalStateMachine>();
  private readonly queue: ExecutionQueue;
  /** Each record's journal entry as last written. */
  private readonly entries = new Map<ExecutionRecord, JournalEntry>();
  /** Every `.waitForTaskToken` wait of every state machine here. */
  readonly tokens = new TaskTokens();

  constructor(private readonly options: LocalStepFunctionsOptions) {
    // Only to know when all are done: no execution ever waits for another.
    this.queue = new ExecutionQueue(Number.MAX_SAFE_INTEGER);
    options.journal?.abortLeftovers();
  }

  /** The local machine for `definition`, created (and its ASL validated) on first use. */
  stateMachineFor(definition: StateMachineDefinition): LocalStateMachine {
    let machine = this.machines.get(definition);
    if (!machine) {
      machine = new LocalStateMachine(definition, {
        retryIntervalScale: this.options.retryIntervalScale,
        services: { ...this.options.services, tokens: this.tokens },
      });
      this.machines.set(definition, machine);
    }
    return machine;
  }

  /** Starts an execution, as StartExecution does; throws ExecutionAlreadyExists for a used name. */
  startExecution(
    stateMachine: LocalStateMachineResource,
    input: unknown,
    start: StartExecutionOptions = {},
  ): ExecutionRecord {
    const record = this.newRecord(input, start.name ?? randomUUID(), stateMachine.arn, {
      event: start.event,
    });
    void this.queue
      .add(() => this.execute(record, stateMachine.definition))
      .catch((error) => this.failWithBug(record, error));
    return record;
  }

  /** Runs `definition` (e.g. a Map's item processor) to completion now, unqueued. */
  async runExecution(
    definition: StateMachineDefinition,
    input: unknown,
    run: RunExecutionOptions,
  ): Promise<ExecutionRecord> {
    const record = this.newRecord(input, run.name, run.stateMachineArn, {
      backfillRunArn: run.backfillRunArn,
    });
    await this.execute(record, definition).catch((error) => this.failWithBug(record, error));
    return record;
  }

  /**
   * RedriveExecution: runs a failed execution of `stateMachine` again (queued), under its own name
   * and ARN, with the same input. Refused, as on AWS, for an execution that did not fail, stopped
   * more than 14 days ago, or is a backfill item (only its Map Run could redrive it). Locally the
   * run starts over at the first state, where Step Functions resumes at the state that failed.
   */
  redriveExecution(stateMachine: LocalStateMachineResource, executionArn: string): ExecutionRecord {
    const entry = this.options.journal?.get(executionArn);
    const failure = this.options.journal?.failures().find((f) => f.executionArn === executionArn);
    if (
      !entry ||
      !failure ||
      failure.redriveStatus !== 'REDRIVABLE' ||
      entry.stateMachineArn !== stateMachine.arn
    ) {
      const reason =
        failure?.redriveStatusReason ?? (entry ? `Execution is ${entry.status}` : 'no such execution');
      throw new StatesError(
        'ExecutionNotRedrivable',
        `Execution ${executionArn} cannot be redriven: ${reason}`,
      );
    }
    const record = this.newRecord(JSON.parse(entry.input), entry.name, stateMachine.arn, { redriven: entry });
    void this.queue
      .add(() => this.execute(record, stateMachine.definition))
      .catch((error) => this.failWithBug(record, error));
    return record;
  }

  executions(): readonly ExecutionRecord[] {
    return this.records;
  }

  /** Whether no execution is running. */
  get idle(): boolean {
    return this.queue.running === 0 && this.queue.queued === 0;
  }

  /**
   * Fails every execution waiting for a task token, now and from now on, with States.Aborted: for a
   * pipeline stopping without draining, where nothing would ever hand them a slot.
   */
  stopWaiting(): void {
    this.tokens.stopAll('The local pipeline was stopped without draining');
  }

  /** Resolves when no execution is running (at once if none is). */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  private newRecord(
    input: unknown,
    name: string,
    stateMachineArn: string,
    more: { event?: unknown; backfillRunArn?: string; redriven?: JournalEntry },
  ): ExecutionRecord {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const used = this.startedArns.has(executionArn) || this.options.journal?.has(executionArn);
    if (used && !more.redriven) throw new ExecutionAlreadyExists(name);
    this.startedArns.add(executionArn);
    const record: ExecutionRecord = {
      name,
      executionArn,
      event: more.event,
      input,
      bucket: isPlainObject(input) ? String(input.bucket) : '',
      key: isPlainObject(input) ? String(input.key) : '',
      status: 'QUEUED',
      attempts: [],
      tokenWaits: [],
    };
    this.records.push(record);
    const now = new Date().toISOString();
    this.journal(
      record,
      more.redriven
        ? {
            ...more.redriven,
            status: 'RUNNING',
            redriveCount: more.redriven.redriveCount + 1,
            redriveDate: now,
          }
        : {
            executionArn,
            name,
            stateMachineArn,
            input: JSON.stringify(input),
            status: 'RUNNING',
            startDate: now,
            redriveCount: 0,
            backfillRunArn: more.backfillRunArn,
          },
    );
    return record;
  }

  /** Records the execution's state in the journal (Step Functions has no QUEUED: it is RUNNING). */
  private journal(record: ExecutionRecord, entry: JournalEntry): void {
    this.entries.set(record, entry);
    this.options.journal?.write(entry);
  }

  private journalEnd(record: ExecutionRecord): void {
    const entry = this.entries.get(record);
    if (!entry) return;
    const { status, error, cause } = record;
    const timedOut = error === 'States.Timeout' && cause === EXECUTION_TIMEOUT_CAUSE;
    this.journal(record, {
      ...entry,
      status: status === 'SUCCEEDED' ? 'SUCCEEDED' : timedOut ? 'TIMED_OUT' : 'FAILED',
      error,
      cause,
      stopDate: new Date().toISOString(),
    });
  }

  private async execute(record: ExecutionRecord, definition: StateMachineDefinition): Promise<void> {
    record.status = 'RUNNING';
    const started = Date.now();
    const outcome = await this.stateMachineFor(definition).run(
      record.input,
      (stateName, parameters, state) =>
        this.options.runTask({
          record,
          stateName,
          parameters,
          timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
        }),
      {
        executionArn: record.executionArn,
        name: record.name,
        onTokenWait: (stateName, waitedMs) => record.tokenWaits.push({ stateName, waitedMs }),
      },
    );
    record.durationMs = Date.now() - started;
    record.status = outcome.status;
    record.output = outcome.output;
    record.error = outcome.error;
    record.cause = outcome.cause;
    this.journalEnd(record);
    await this.options.onExecutionFinished?.(record);
  }

  /** Only a bug in the local pipeline gets here (a failed execution is an outcome, not an error). */
  private async failWithBug(record: ExecutionRecord, error: unknown): Promise<void> {
    record.status = 'FAILED';
    record.error = 'LocalPipelineError';
    record.cause = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.journalEnd(record);
    await this.options.onExecutionFinished?.(record);
  }
}
