import { randomUUID } from 'node:crypto';

import type { RedriveStatus } from '../../shared/failed-executions';
import type { Clock } from '../clock';
import { isPlainObject } from '../cloudformation/intrinsics';
import type { TaskAttempt } from '../ecs/task-runner';
import { StepFunctionsApi } from './api';
import { StatesError } from './asl/errors';
import { ExecutionHistory, type HistoryEvent } from './asl/history';
import { fillPayload, type Json, readPath } from './asl/paths';
import type { LocalStateMachineResource, StateMachineDefinition } from './definitions';
import { ExecutionAlreadyExists } from './errors';
import {
  type ExecutionJournal,
  type JournalEntry,
  type MapRunEntry,
  type MapRunParent,
  type RedriveFacts,
  redriveStatusOf,
  unstartedItems,
} from './execution-journal';
import { ExecutionQueue } from './execution-queue';
import type { LocalServices } from './integrations';
import { listObjectItems, type S3ItemReaderOptions } from './item-reader';
import {
  type DistributedMapRun,
  type ExecutionOutcome,
  ExecutionStopped,
  type FailedState,
  LocalStateMachine,
  type ServiceCall,
  type TaskCall,
} from './state-machine';
import { type StatusChangeEvent, statusChangeEvent } from './status-change-event';
import { TaskTokens } from './task-tokens';

/**
 * Step Functions, locally: StartExecution (names unique per state machine, as on AWS), StopExecution,
 * RedriveExecution, the execution records and their histories, Distributed Map runs and their child
 * executions, on one engine (state-machine.ts) and one Clock. Every execution starts at once, as on
 * AWS: what bounds the tasks running at once is Fargate's quota in the local ECS. Task tokens are
 * shared by every state machine, as they are per account on AWS.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  readonly name: string;
  readonly executionArn: string;
  readonly stateMachineArn: string;
  /** The EventBridge event that started it; undefined otherwise. */
  readonly event: unknown;
  /** The execution input (the rule target's input for the event, or a Map item). */
  readonly input: unknown;
  readonly bucket: string;
  readonly key: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  output?: unknown;
  /** Epoch ms on the clock. */
  startDate: number;
  stopDate?: number;
  /** From start to stop of the execution, on the clock. */
  durationMs?: number;
  redriveCount: number;
  redriveDate?: number;
  /** For a Distributed Map's child: its Map Run, its item's index and the execution that ran the Map. */
  readonly mapRunArn?: string;
  readonly mapItemIndex?: number;
  /**
   * Of an EXPRESS state machine: as on AWS, neither journaled (no history kept, not listed after this
   * run) nor reported by status-change events, which Step Functions sends for Standard ones only.
   */
  readonly express?: boolean;
  readonly parentExecutionArn?: string;
  readonly history: ExecutionHistory;
  /** Every task launch, in order, with the state that made it. */
  readonly attempts: TaskAttempt[];
  /** Every wait of a `.waitForTaskToken` state (the launch gate's line), in order. */
  readonly tokenWaits: Array<{ readonly stateName: string; readonly waitedMs: number }>;
  /** Where the worker wrote its result, by the worker's contract; undefined when it wrote none. */
  result?: { readonly bucket: string; readonly key: string };
  /** Where a redrive resumes. */
  failedState?: ExecutionOutcome['failedState'];
}

export interface MapRunRecord {
  readonly mapRunArn: string;
  readonly executionArn: string;
  /** The Distributed Map state that started it. */
  readonly stateName: string;
  /** The children's state machine: `<state machine ARN>/<label>`. */
  readonly stateMachineArn: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  readonly startDate: number;
  stopDate?: number;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  readonly toleratedFailureCount: number;
  readonly items: number;
  /** Items with no child yet (waiting for their turn, or not started because the run failed): their inputs by index. */
  readonly unstarted: Map<number, unknown>;
  /** Unsuccessful children waiting to be redriven. */
  pendingRedrive: number;
  redriveCount: number;
  redriveDate?: number;
  readonly children: ExecutionRecord[];
}

export interface StartExecutionOptions {
  /** Unique per state machine, as in Step Functions. @default a random UUID */
  readonly name?: string;
  /** The event the input was made from, for the record. */
  readonly event?: unknown;
}

/** One Task state's call to a service other than ECS, with the execution that made it. */
export interface ExecutionServiceCall extends ServiceCall {
  readonly stateMachineArn: string;
  readonly executionArn: string;
}

/**
 * What every service call but ECS's passes through: returns `send()`'s answer, or another answer or
 * error in its place (fault injection, local/faults/).
 */
export type ServiceCallHook = (call: ExecutionServiceCall, send: () => Promise<Json>) => Promise<Json>;

/** One `ecs:runTask.sync` state to serve for an execution. */
export interface TaskInvocation extends TaskCall {
  readonly record: ExecutionRecord;
}

export interface LocalStepFunctionsOptions {
  readonly clock: Clock;
  /** Serves `ecs:runTask.sync` states: returns the stopped task, or throws a named StatesError. */
  readonly runTask: (task: TaskInvocation) => Promise<Json>;
  /** Awaited when an execution has ended, before it counts as done. */
  readonly onExecutionFinished?: (record: ExecutionRecord) => Promise<void>;
  /** Each "Step Functions Execution Status Change" event (to the local event bus). */
  readonly onStatusChange?: (event: StatusChangeEvent) => void;
  /** Where every execution is recorded, across runs; names already in it cannot be used again. */
  readonly journal?: ExecutionJournal;
  /** What serves the Task states other than `ecs:runTask.sync`. @default - only the Step Functions API */
  readonly services?: Omit<LocalServices, 'tokens' | 'stepFunctions'>;
  /** The state machines the API lists and starts. @default - none */
  readonly stateMachines?: readonly LocalStateMachineResource[];
  /** The S3 a Distributed Map's ItemReader lists. @default - none: such a Map fails */
  readonly itemReader?: S3ItemReaderOptions;
  readonly region?: string;
  /** For FULL jitter. @default Math.random */
  readonly random?: () => number;
  /** Every Task state's service call but `ecs:runTask.sync`, of every execution. @default - made as it is */
  readonly onServiceCall?: ServiceCallHook;
}

export class LocalStepFunctions {
  private readonly records: ExecutionRecord[] = [];
  private readonly byArn = new Map<string, ExecutionRecord>();
  private readonly machines = new Map<StateMachineDefinition, LocalStateMachine>();
  private readonly controllers = new Map<ExecutionRecord, AbortController>();
  private readonly running = new Map<ExecutionRecord, Promise<void>>();
  readonly mapRuns = new Map<string, MapRunRecord>();
  private readonly queue = new ExecutionQueue(Number.MAX_SAFE_INTEGER);
  /** Executions being redriven: the first Distributed Map state each runs redrives its failed Map Run. */
  private readonly redriving = new Set<ExecutionRecord>();
  /** The Map Runs of executions revived from the journal, until a redrive revives them too. */
  private readonly revivedMapRuns = new Map<ExecutionRecord, readonly MapRunEntry[]>();
  readonly tokens: TaskTokens;
  readonly clock: Clock;
  /** The Step Functions API on these executions, for the local endpoint and `aws-sdk:sfn:*` alike. */
  readonly api: StepFunctionsApi;

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.clock = options.clock;
    this.tokens = new TaskTokens(options.clock);
    this.api = new StepFunctionsApi(this, options.stateMachines ?? []);
    for (const machine of options.stateMachines ?? []) this.stateMachineFor(machine.definition, machine.type);
    options.journal?.abortLeftovers(new Date(options.clock.now()));
  }

  /** The engine for `definition`, created (and checked) on first use. */
  stateMachineFor(
    definition: StateMachineDefinition,
    type: 'STANDARD' | 'EXPRESS' = 'STANDARD',
  ): LocalStateMachine {
    let machine = this.machines.get(definition);
    if (!machine) {
      machine = new LocalStateMachine(definition, {
        clock: this.clock,
        tokens: this.tokens,
        services: { ...this.options.services, tokens: this.tokens, stepFunctions: () => this.api },
        random: this.options.random,
        region: this.options.region,
        type,
      });
      this.machines.set(definition, machine);
    }
    return machine;
  }

  /**
   * StartExecution: the same name and input while it runs returns the same execution (as AWS does
   * for an idempotent retry); a name used before otherwise is ExecutionAlreadyExists.
   */
  startExecution(
    stateMachine: LocalStateMachineResource,
    input: unknown,
    start: StartExecutionOptions = {},
  ): ExecutionRecord {
    const name = start.name ?? randomUUID();
    // An Express execution's ARN carries a run id of its own: its names need not be unique.
    const express = stateMachine.type === 'EXPRESS';
    const executionArn = express
      ? `${stateMachine.arn.replace(':stateMachine:', ':express:')}:${name}:${randomUUID()}`
      : `${stateMachine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.byArn.get(executionArn);
    if (existing?.status === 'RUNNING' && JSON.stringify(existing.input) === JSON.stringify(input))
      return existing;
    if (existing || this.options.journal?.has(executionArn)) throw new ExecutionAlreadyExists(executionArn);
    const record = this.newRecord({
      name,
      executionArn,
      stateMachineArn: stateMachine.arn,
      input,
      event: start.event,
      express,
    });
    this.launch(record, this.stateMachineFor(stateMachine.definition, stateMachine.type));
    return record;
  }

  /** StopExecution: ends it ABORTED at once (no Catch runs); its task is stopped, its tokens closed. */
  stopExecution(executionArn: string, error?: string, cause?: string): ExecutionRecord | undefined {
    const record = this.byArn.get(executionArn);
    const controller = record && this.controllers.get(record);
    controller?.abort(new ExecutionStopped('ABORTED', error, cause));
    return record;
  }

  /** Stops every running execution (the pipeline stopping without draining). */
  stopAll(cause: string): void {
    for (const record of this.records)
      if (record.status === 'RUNNING') this.stopExecution(record.executionArn, undefined, cause);
  }

  /**
   * RedriveExecution: resumes a failed, timed-out or aborted execution at the state that did not
   * succeed, with that state's input, under the same ARN. Refused, as on AWS, for one that did not
   * fail, stopped more than 14 days ago, or is a Distributed Map's child (its Map Run redrives it).
   */
  redriveExecution(stateMachine: LocalStateMachineResource, executionArn: string): ExecutionRecord {
    const live = this.byArn.get(executionArn);
    const entry = this.describe(executionArn);
    const refuse = (reason: string) =>
      new StatesError('ExecutionNotRedrivable', `Execution ${executionArn} cannot be redriven: ${reason}`);
    if (!entry) throw new StatesError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    const redrive = this.redriveStatus(entry, stateMachine.type);
    if (redrive.status !== 'REDRIVABLE') throw refuse(redrive.reason ?? redrive.status);
    if (entry.stateMachineArn !== stateMachine.arn)
      throw refuse(`it is not an execution of ${stateMachine.arn}`);
    const record = live ?? this.revive(entry);
    // Stopped where the journal could not tell (a process that ended mid-run): from the start.
    const resumeAt = (entry.failedState as FailedState | undefined) ?? {
      name: String(stateMachine.definition.StartAt),
      input: record.input as Json,
    };
    this.reopen(record);
    this.redriving.add(record);
    this.launch(record, this.stateMachineFor(stateMachine.definition, stateMachine.type), resumeAt);
    return record;
  }

  executions(): readonly ExecutionRecord[] {
    return this.records;
  }

  /** An execution of this run or, failing that, of an earlier one (the journal), as DescribeExecution sees it. */
  describe(executionArn: string): JournalEntry | undefined {
    const live = this.byArn.get(executionArn);
    return live ? this.entryOf(live) : this.options.journal?.get(executionArn);
  }

  /** Every execution, of this run and of earlier ones. */
  entries(): JournalEntry[] {
    const byArn = new Map(
      (this.options.journal?.entries() ?? []).map((entry) => [entry.executionArn, entry]),
    );
    // An ended execution's entry as the journal has it already (its history not read back twice).
    for (const record of this.records) {
      if (!record.history.released || !byArn.has(record.executionArn))
        byArn.set(record.executionArn, this.entryOf(record));
    }
    return [...byArn.values()];
  }

  /** DescribeExecution's redriveStatus (execution-journal.ts), on this clock; a Map Run's child's by its parent's. */
  redriveStatus(
    entry: RedriveFacts,
    type: 'STANDARD' | 'EXPRESS' = 'STANDARD',
  ): { readonly status: RedriveStatus; readonly reason?: string } {
    return redriveStatusOf(entry, this.clock.now(), type, this.mapRunParent(entry));
  }

  /** A Map Run's child's parent and Map Run, as redriveStatus reads them (live ones without an entry made). */
  private mapRunParent(child: RedriveFacts): MapRunParent | undefined {
    const { backfillRunArn: parentArn, mapRunArn } = child;
    if (parentArn === undefined || mapRunArn === undefined) return undefined;
    const live = this.byArn.get(parentArn);
    const parent = live ? redriveFactsOf(live) : this.options.journal?.get(parentArn);
    const mapRunStatus =
      this.mapRuns.get(mapRunArn)?.status ??
      this.options.journal?.get(parentArn)?.mapRuns?.find((run) => run.mapRunArn === mapRunArn)?.status;
    return parent && { parent, mapRunStatus };
  }

  /** An execution of this run, by ARN. */
  execution(executionArn: string): ExecutionRecord | undefined {
    return this.byArn.get(executionArn);
  }

  /** Whether no execution is running. */
  get idle(): boolean {
    return this.queue.running === 0;
  }

  /** Resolves when no execution is running (at once if none is). */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  /** Resolves when `record` has ended. */
  async finished(record: ExecutionRecord): Promise<void> {
    await this.running.get(record);
  }

  /** An execution of an earlier process, from its entry, as this process's record of it. */
  private revive(entry: JournalEntry, register = true): ExecutionRecord {
    const record = this.newRecord({
      name: entry.name,
      executionArn: entry.executionArn,
      stateMachineArn: entry.stateMachineArn,
      input: JSON.parse(entry.input),
      history: entry.history,
      startDate: Date.parse(entry.startDate),
      mapRunArn: entry.mapRunArn,
      parentExecutionArn: entry.backfillRunArn,
      mapItemIndex: entry.mapItemIndex,
      register,
    });
    record.status = entry.status;
    record.error = entry.error;
    record.cause = entry.cause;
    record.output = entry.output === undefined ? undefined : JSON.parse(entry.output);
    record.stopDate = epochMs(entry.stopDate);
    record.redriveCount = entry.redriveCount;
    record.redriveDate = epochMs(entry.redriveDate);
    record.failedState = entry.failedState as FailedState | undefined;
    if (entry.mapRuns) this.revivedMapRuns.set(record, entry.mapRuns);
    return record;
  }

  /** A redrive begins: RUNNING again under the same ARN, redriveCount + 1. */
  private reopen(record: ExecutionRecord): void {
    record.status = 'RUNNING';
    record.redriveCount++;
    record.redriveDate = this.clock.now();
    record.error = record.cause = record.stopDate = undefined;
  }

  private newRecord(init: {
    name: string;
    executionArn: string;
    stateMachineArn: string;
    input: unknown;
    event?: unknown;
    mapRunArn?: string;
    mapItemIndex?: number;
    parentExecutionArn?: string;
    history?: readonly HistoryEvent[];
    startDate?: number;
    express?: boolean;
    /** Among this process's executions (listed, stoppable). @default true */
    register?: boolean;
  }): ExecutionRecord {
    const { input } = init;
    const record: ExecutionRecord = {
      name: init.name,
      executionArn: init.executionArn,
      stateMachineArn: init.stateMachineArn,
      event: init.event,
      input,
      bucket: isPlainObject(input) ? String(input.bucket) : '',
      key: isPlainObject(input) ? String(input.key) : '',
      status: 'RUNNING',
      startDate: init.startDate ?? this.clock.now(),
      redriveCount: 0,
      mapRunArn: init.mapRunArn,
      mapItemIndex: init.mapItemIndex,
      parentExecutionArn: init.parentExecutionArn,
      express: init.express,
      history: new ExecutionHistory(this.clock, init.history, !init.express),
      attempts: [],
      tokenWaits: [],
    };
    if (init.register === false) return record;
    this.records.push(record);
    this.byArn.set(record.executionArn, record);
    return record;
  }

  private launch(
    record: ExecutionRecord,
    machine: LocalStateMachine,
    resumeAt?: { name: string; input: Json },
  ): void {
    const done = this.queue
      .add(() => this.execute(record, machine, resumeAt))
      .catch((error) => this.failWithBug(record, error));
    this.running.set(record, done);
  }

  private async execute(
    record: ExecutionRecord,
    machine: LocalStateMachine,
    resumeAt?: { name: string; input: Json },
  ): Promise<void> {
    const controller = new AbortController();
    this.controllers.set(record, controller);
    this.journal(record);
    this.statusChanged(record);
    const { onServiceCall } = this.options;
    const identity = { stateMachineArn: record.stateMachineArn, executionArn: record.executionArn };
    try {
      const outcome = await machine.run(record.input as Json, {
        identity: {
          executionArn: record.executionArn,
          name: record.name,
          stateMachineArn: record.stateMachineArn,
          startTime: new Date(record.startDate).toISOString(),
          redriveCount: record.redriveCount,
        },
        history: record.history,
        signal: controller.signal,
        resumeAt,
        runTask: (call) => this.options.runTask({ ...call, record }),
        distributedMap: (run) => this.distributedMap(record, run),
        onTokenWait: (stateName, waitedMs) => record.tokenWaits.push({ stateName, waitedMs }),
        callService: onServiceCall && ((call, send) => onServiceCall({ ...call, ...identity }, send)),
      });
      this.end(record, outcome);
    } finally {
      this.controllers.delete(record);
      this.redriving.delete(record);
    }
    await this.options.onExecutionFinished?.(record);
  }

  private end(record: ExecutionRecord, outcome: ExecutionOutcome): void {
    record.status = outcome.status;
    record.output = outcome.output;
    record.error = outcome.error;
    record.cause = outcome.cause;
    record.failedState = outcome.failedState;
    record.stopDate = this.clock.now();
    record.durationMs = record.stopDate - (record.redriveDate ?? record.startDate);
    this.journal(record);
    this.statusChanged(record);
    // Journaled with its history: read back from there when asked for (GetExecutionHistory, a redrive).
    const { journal } = this.options;
    if (journal && !record.express)
      record.history.release(() => journal.get(record.executionArn)?.history ?? []);
  }

  /** Only a bug in the local pipeline gets here (a failed execution is an outcome, not an error). */
  private async failWithBug(record: ExecutionRecord, error: unknown): Promise<void> {
    this.end(record, {
      status: 'FAILED',
      error: 'LocalPipelineError',
      cause: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    await this.options.onExecutionFinished?.(record);
  }

  /** The record as the journal (and DescribeExecution) keeps it. */
  entryOf(record: ExecutionRecord): JournalEntry {
    return {
      executionArn: record.executionArn,
      name: record.name,
      stateMachineArn: record.stateMachineArn,
      input: JSON.stringify(record.input ?? null),
      output: record.output === undefined ? undefined : JSON.stringify(record.output),
      status: record.status,
      error: record.error,
      cause: record.cause,
      startDate: isoDate(record.startDate),
      stopDate: isoDate(record.stopDate),
      redriveCount: record.redriveCount,
      redriveDate: isoDate(record.redriveDate),
      backfillRunArn: record.parentExecutionArn,
      mapRunArn: record.mapRunArn,
      mapItemIndex: record.mapItemIndex,
      mapRuns: this.mapRunEntries(record),
      failedState: record.failedState,
      history: record.history.events,
    };
  }

  /** The Map Runs `record`'s Distributed Map states started, as its entry keeps them; undefined if none. */
  private mapRunEntries(record: ExecutionRecord): readonly MapRunEntry[] | undefined {
    const runs = [...this.mapRuns.values()].filter((run) => run.executionArn === record.executionArn);
    const earlier = (this.revivedMapRuns.get(record) ?? []).filter((run) => !this.mapRuns.has(run.mapRunArn));
    if (runs.length === 0 && earlier.length === 0) return undefined;
    return [...earlier, ...runs.map(mapRunEntryOf)];
  }

  private journal(record: ExecutionRecord): void {
    if (!record.express) this.options.journal?.write(this.entryOf(record));
  }

  private statusChanged(record: ExecutionRecord): void {
    if (!this.options.onStatusChange || record.express) return;
    this.options.onStatusChange(
      statusChangeEvent(
        {
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: record.startDate,
          stopDate: record.stopDate,
          input: JSON.stringify(record.input ?? null),
          output: record.status === 'SUCCEEDED' ? JSON.stringify(record.output ?? null) : undefined,
          error: record.error,
          cause: record.cause,
          redriveCount: record.redriveCount,
          redriveDate: record.redriveDate,
          redriveStatus: this.redriveStatus(redriveFactsOf(record)).status,
        },
        this.clock.now(),
      ),
    );
  }

  /**
   * A Distributed Map: its items (the ItemReader's listing, or ItemsPath), each item's input by the
   * ItemSelector (`$$.Map.Item`), one child execution per item, at most MaxConcurrency at once; the
   * run fails with States.ExceedToleratedFailureThreshold past ToleratedFailurePercentage /
   * ToleratedFailureCount (none tolerated unless set), and then starts no more children. Stopping
   * the parent stops the children. In a redrive of the parent, the state's Map Run that did not
   * succeed is redriven instead of a new one started: see redriveMapRun.
   */
  private async distributedMap(parent: ExecutionRecord, run: DistributedMapRun): Promise<Json> {
    const earlier = this.redriving.delete(parent) ? this.failedMapRun(parent, run.stateName) : undefined;
    const mapRun = earlier ? this.redriveMapRun(parent, earlier, run) : await this.startMapRun(parent, run);
    return this.runMapRun(parent, mapRun, run);
  }

  private async startMapRun(parent: ExecutionRecord, run: DistributedMapRun): Promise<MapRunRecord> {
    const { state, input, context } = run;
    const items = await this.mapItems(run);
    const label = typeof state.Label === 'string' ? state.Label : run.stateName;
    const stateMachineName = parent.stateMachineArn.split(':').pop();
    const base = parent.stateMachineArn.replace(/:stateMachine:.*$/, '');
    const selector = state.ItemSelector as Json | undefined;
    const mapRun: MapRunRecord = {
      mapRunArn: `${base}:mapRun:${stateMachineName}/${label}:${randomUUID()}`,
      executionArn: parent.executionArn,
      stateName: run.stateName,
      stateMachineArn: `${parent.stateMachineArn}/${label}`,
      status: 'RUNNING',
      startDate: this.clock.now(),
      maxConcurrency: typeof state.MaxConcurrency === 'number' ? state.MaxConcurrency : 0,
      toleratedFailurePercentage:
        typeof state.ToleratedFailurePercentage === 'number' ? state.ToleratedFailurePercentage : 0,
      toleratedFailureCount:
        typeof state.ToleratedFailureCount === 'number' ? state.ToleratedFailureCount : 0,
      items: items.length,
      unstarted: new Map(
        items.map((value, index) => {
          const itemContext = {
            ...(context as Record<string, Json>),
            Map: { Item: { Index: index, Value: value } },
          };
          return [
            index,
            selector === undefined ? value : fillPayload(selector, input, itemContext, 'ItemSelector'),
          ];
        }),
      ),
      pendingRedrive: 0,
      redriveCount: 0,
      children: [],
    };
    this.mapRuns.set(mapRun.mapRunArn, mapRun);
    run.onStarted(mapRun.mapRunArn);
    // The parent's entry keeps the items to start, so a redrive after a restart finds them.
    this.journal(parent);
    return mapRun;
  }

  /**
   * Redrives a Map Run as Step Functions does: the same Map Run (redriveCount + 1, MapRunRedriven in
   * the parent's history), with the items it had (no new listing): its unsuccessful Standard children
   * are redriven (same ARN, redriveCount + 1, from the state that did not succeed), Express ones
   * started again, and the items it never started are started; its successful children are not run
   * again. Its tolerance counts the children that fail in it.
   */
  private redriveMapRun(parent: ExecutionRecord, mapRun: MapRunRecord, run: DistributedMapRun): MapRunRecord {
    mapRun.status = 'RUNNING';
    mapRun.redriveCount++;
    mapRun.redriveDate = this.clock.now();
    mapRun.stopDate = undefined;
    run.onRedriven(mapRun.mapRunArn, mapRun.redriveCount);
    this.journal(parent);
    return mapRun;
  }

  private async runMapRun(
    parent: ExecutionRecord,
    mapRun: MapRunRecord,
    run: DistributedMapRun,
  ): Promise<Json> {
    const machine = this.stateMachineFor(run.processor, run.childType);
    const percentage = run.state.ToleratedFailurePercentage;
    const count = run.state.ToleratedFailureCount;
    let failed = 0;
    const exceeded = () =>
      percentage === undefined && count === undefined
        ? failed > 0
        : (typeof percentage === 'number' && failed * 100 > percentage * mapRun.items) ||
          (typeof count === 'number' && failed > count);
    // A process that ended mid-run journaled its items before their children started.
    for (const child of mapRun.children) mapRun.unstarted.delete(child.mapItemIndex ?? -1);
    const toRedrive = mapRun.children.filter(
      (child) => child.status !== 'SUCCEEDED' && child.status !== 'RUNNING',
    );
    const toStart = [...mapRun.unstarted.keys()];
    mapRun.pendingRedrive = toRedrive.length;
    const queue = new ExecutionQueue(
      mapRun.maxConcurrency > 0 ? mapRun.maxConcurrency : Math.max(1, toRedrive.length + toStart.length),
    );
    const stopChildren = () => mapRun.children.forEach((child) => this.stopExecution(child.executionArn));
    run.signal.addEventListener('abort', stopChildren, { once: true });
    const settle = (child: ExecutionRecord) => {
      if (child.status !== 'SUCCEEDED') failed++;
      // A Map Run that fails stops its children still running, as Step Functions does (they end ABORTED).
      if (exceeded()) stopChildren();
    };
    try {
      await Promise.all([
        ...toRedrive.map((child) =>
          queue.add(async () => {
            mapRun.pendingRedrive--;
            if (exceeded() || run.signal.aborted) return;
            settle(await this.redriveChild(parent, mapRun, child, machine, run));
          }),
        ),
        ...toStart.map((index) =>
          queue.add(async () => {
            if (exceeded() || run.signal.aborted) return;
            const input = mapRun.unstarted.get(index);
            mapRun.unstarted.delete(index);
            settle(await this.startChild(parent, mapRun, index, input, machine));
          }),
        ),
      ]);
    } finally {
      run.signal.removeEventListener('abort', stopChildren);
    }
    mapRun.stopDate = this.clock.now();
    if (run.signal.aborted) {
      mapRun.status = 'ABORTED';
      throw run.signal.reason;
    }
    if (exceeded()) {
      mapRun.status = 'FAILED';
      throw new StatesError(
        'States.ExceedToleratedFailureThreshold',
        'The specified tolerated failure threshold was exceeded',
      );
    }
    mapRun.status = 'SUCCEEDED';
    const outputs: Json[] = new Array(mapRun.items).fill(null);
    for (const child of mapRun.children) {
      if (child.status === 'SUCCEEDED' && child.mapItemIndex !== undefined)
        outputs[child.mapItemIndex] = (child.output ?? null) as Json;
    }
    return outputs;
  }

  private async startChild(
    parent: ExecutionRecord,
    mapRun: MapRunRecord,
    index: number,
    input: unknown,
    machine: LocalStateMachine,
  ): Promise<ExecutionRecord> {
    const name = randomUUID();
    const child = this.newRecord({
      name,
      executionArn: `${mapRun.mapRunArn.replace(':mapRun:', ':execution:').replace(/:[^:]+$/, '')}:${name}`,
      stateMachineArn: mapRun.stateMachineArn,
      input,
      mapRunArn: mapRun.mapRunArn,
      parentExecutionArn: parent.executionArn,
      mapItemIndex: index,
    });
    mapRun.children.push(child);
    await this.execute(child, machine).catch((error) => this.failWithBug(child, error));
    return child;
  }

  /** A Map Run's unsuccessful child, run again: a Standard one redriven, an Express one started anew. */
  private async redriveChild(
    parent: ExecutionRecord,
    mapRun: MapRunRecord,
    child: ExecutionRecord,
    machine: LocalStateMachine,
    run: DistributedMapRun,
  ): Promise<ExecutionRecord> {
    if (run.childType === 'EXPRESS') {
      mapRun.children.splice(mapRun.children.indexOf(child), 1);
      return this.startChild(parent, mapRun, child.mapItemIndex ?? 0, child.input, machine);
    }
    this.reopen(child);
    // Stopped where the journal could not tell (a process that ended mid-run): from the start.
    const resumeAt = child.failedState ?? { name: String(run.processor.StartAt), input: child.input as Json };
    await this.execute(child, machine, resumeAt).catch((error) => this.failWithBug(child, error));
    return child;
  }

  /** The Map Run of `stateName` of this execution that did not succeed, of this process or from the journal. */
  private failedMapRun(parent: ExecutionRecord, stateName: string): MapRunRecord | undefined {
    const live = [...this.mapRuns.values()].filter(
      (run) => run.executionArn === parent.executionArn && run.stateName === stateName,
    );
    const journaled = (this.revivedMapRuns.get(parent) ?? []).filter(
      (run) => run.stateName === stateName && !this.mapRuns.has(run.mapRunArn),
    );
    const runs = [...live, ...journaled.map((run) => this.reviveMapRun(parent, run))];
    const latest = runs.sort((a, b) => a.startDate - b.startDate).at(-1);
    return latest && latest.status !== 'SUCCEEDED' && latest.status !== 'RUNNING' ? latest : undefined;
  }

  /** A Map Run of an earlier process, from its parent's entry and its children's. */
  private reviveMapRun(parent: ExecutionRecord, entry: MapRunEntry): MapRunRecord {
    const children = (this.options.journal?.entries() ?? [])
      .filter((child) => child.mapRunArn === entry.mapRunArn)
      // Only those to redrive become this process's executions; the others are read for their outputs.
      .map((child) => this.byArn.get(child.executionArn) ?? this.revive(child, child.status !== 'SUCCEEDED'));
    const mapRun = mapRunOf(entry, parent.executionArn, children);
    this.mapRuns.set(mapRun.mapRunArn, mapRun);
    return mapRun;
  }

  private async mapItems(run: DistributedMapRun): Promise<Json[]> {
    const { state, input, context } = run;
    const reader = state.ItemReader as Record<string, unknown> | undefined;
    if (!reader) {
      const items =
        state.ItemsPath === undefined
          ? input
          : readPath(String(state.ItemsPath), input, context, 'ItemsPath');
      if (!Array.isArray(items))
        throw new StatesError('States.Runtime', `Map state "${run.stateName}": its items are not an array`);
      return items;
    }
    if (!this.options.itemReader) {
      throw new StatesError(
        'States.ItemReaderFailed',
        `Map state "${run.stateName}": no local S3 was given to list`,
      );
    }
    const parameters = (
      reader.Parameters === undefined ? {} : fillPayload(reader.Parameters as Json, input, context)
    ) as Record<string, Json>;
    const config = isPlainObject(reader.ReaderConfig) ? reader.ReaderConfig : {};
    const maxItems = typeof config.MaxItems === 'number' && config.MaxItems > 0 ? config.MaxItems : Infinity;
    const listing = listObjectItems(this.options.itemReader, parameters, maxItems);
    return (await this.clock.track(listing)) as unknown as Json[];
  }
}

/** What redriveStatus reads of a live execution, without making its whole entry. */
function redriveFactsOf(record: ExecutionRecord): RedriveFacts {
  return {
    status: record.status,
    startDate: isoDate(record.startDate),
    stopDate: isoDate(record.stopDate),
    history: record.history,
    mapRunArn: record.mapRunArn,
    backfillRunArn: record.parentExecutionArn,
  };
}

/**
 * A Map Run as its parent's entry keeps it, and back: the one pair of conversions between the
 * record and the entry. Every field is the record's but the dates (epoch ms in the record, ISO 8601
 * in the entry) and the unstarted items (a Map in the record, a list in the entry); what only a
 * running Map Run has (its children, its count of pending redrives, its parent's ARN) is not kept.
 */
export function mapRunEntryOf(run: MapRunRecord): MapRunEntry {
  const { startDate, stopDate, redriveDate, unstarted } = run;
  return {
    mapRunArn: run.mapRunArn,
    stateName: run.stateName,
    stateMachineArn: run.stateMachineArn,
    status: run.status,
    maxConcurrency: run.maxConcurrency,
    toleratedFailurePercentage: run.toleratedFailurePercentage,
    toleratedFailureCount: run.toleratedFailureCount,
    items: run.items,
    redriveCount: run.redriveCount,
    startDate: isoDate(startDate),
    stopDate: isoDate(stopDate),
    redriveDate: isoDate(redriveDate),
    unstarted: [...unstarted].map(([index, input]) => ({ index, input })),
  };
}

/** The reverse of mapRunEntryOf, with the parent's ARN and the children (records, or entries for the API). */
export function mapRunOf<Child>(
  entry: MapRunEntry,
  executionArn: string,
  children: Child[],
): Omit<MapRunRecord, 'children'> & { children: Child[] } {
  return {
    ...entry,
    executionArn,
    startDate: Date.parse(entry.startDate),
    stopDate: epochMs(entry.stopDate),
    redriveDate: epochMs(entry.redriveDate),
    unstarted: unstartedItems(entry),
    pendingRedrive: 0,
    children,
  };
}

function isoDate(ms: number): string;
function isoDate(ms: number | undefined): string | undefined;
function isoDate(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function epochMs(iso: string | undefined): number | undefined {
  return iso === undefined ? undefined : Date.parse(iso);
}
