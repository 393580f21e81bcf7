import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  FAILED_STATUSES,
  type FailedStatus,
  REDRIVE_WINDOW_DAYS,
  type RedriveStatus,
} from '../../shared/failed-executions';
import { type HistoryEvent, MAX_HISTORY_EVENTS } from './asl/history';

/**
 * Step Functions' executions, locally: a directory with one JSON file per execution (input, status,
 * error, cause, start and stop times, redrives, its history events), kept beside the data directory like the
 * dead letters, so `--failures` and `--redrive` see the executions of earlier runs and execution
 * names stay unique across restarts, as they are per state machine on AWS.
 */

export type JournalStatus = 'RUNNING' | 'SUCCEEDED' | FailedStatus;

export interface JournalEntry {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /** The execution input, JSON text, as DescribeExecution returns it. */
  readonly input: string;
  readonly status: JournalStatus;
  readonly error?: string;
  readonly cause?: string;
  /** ISO 8601. */
  readonly startDate: string;
  readonly stopDate?: string;
  readonly redriveCount: number;
  readonly redriveDate?: string;
  /** For a Distributed Map's child: the execution whose Map started it, its Map Run and its item's index. */
  readonly backfillRunArn?: string;
  readonly mapRunArn?: string;
  readonly mapItemIndex?: number;
  /** The Map Runs this execution's Distributed Map states started, as a redrive finds them. */
  readonly mapRuns?: readonly MapRunEntry[];
  /** The output, JSON text, once it succeeded. */
  readonly output?: string;
  /** Where a redrive resumes: the state that did not succeed, its input and the variables then. */
  readonly failedState?: {
    readonly name: string;
    readonly input: unknown;
    readonly variables?: Readonly<Record<string, unknown>>;
  };
  /** The execution's history events, as GetExecutionHistory returns them. */
  readonly history?: readonly HistoryEvent[];
}

/**
 * A Map Run as the journal keeps it in its execution's entry (its children have entries of their
 * own): what DescribeMapRun shows, and the items it has not started yet, with their inputs, which a
 * redrive of the execution starts (the listing is not read again).
 */
export interface MapRunEntry {
  readonly mapRunArn: string;
  /** The Distributed Map state that started it. */
  readonly stateName: string;
  /** The children's state machine: `<state machine ARN>/<label>`. */
  readonly stateMachineArn: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** ISO 8601. */
  readonly startDate: string;
  readonly stopDate?: string;
  readonly maxConcurrency: number;
  readonly toleratedFailurePercentage: number;
  readonly toleratedFailureCount: number;
  readonly items: number;
  readonly unstarted: ReadonlyArray<{ readonly index: number; readonly input: unknown }>;
  readonly redriveCount: number;
  readonly redriveDate?: string;
}

/** A Map Run entry's items with no child yet: their inputs by index. */
export function unstartedItems(entry: MapRunEntry): Map<number, unknown> {
  return new Map(entry.unstarted.map(({ index, input }) => [index, input]));
}

const DAY_MS = 86_400_000;

/**
 * What DescribeExecution's redriveStatus is decided on: an entry, or a live execution as one (of its
 * history, only how many events it has).
 */
export type RedriveFacts = Pick<
  JournalEntry,
  'status' | 'startDate' | 'stopDate' | 'mapRunArn' | 'backfillRunArn'
> & { readonly history?: { readonly length: number } };

/** A Distributed Map's child's parent (the execution that ran the Map), and its Map Run's status. */
export interface MapRunParent {
  readonly parent: RedriveFacts;
  readonly mapRunStatus?: MapRunEntry['status'];
}

/**
 * DescribeExecution's redriveStatus, by AWS's rules (the API reference's DescribeExecution and
 * RedriveExecution): an execution that failed, timed out or was aborted, of a Standard state
 * machine, within 14 days of its stop, with fewer than 24,999 history events (a redrive adds at
 * least two). A Distributed Map's child only through its Map Run: REDRIVABLE_BY_MAP_RUN while a
 * redrive of its parent would redrive that Map Run (the parent redrivable, the Map Run not
 * succeeded); otherwise NOT_REDRIVABLE.
 */
export function redriveStatusOf(
  entry: RedriveFacts,
  nowMs: number,
  type: 'STANDARD' | 'EXPRESS' = 'STANDARD',
  mapRun?: MapRunParent,
): { readonly status: RedriveStatus; readonly reason?: string } {
  if (!(FAILED_STATUSES as readonly string[]).includes(entry.status)) {
    return { status: 'NOT_REDRIVABLE', reason: `Execution is ${entry.status} and cannot be redriven` };
  }
  if ((entry.history?.length ?? 0) >= MAX_HISTORY_EVENTS - 1) {
    return { status: 'NOT_REDRIVABLE', reason: 'Execution history event limit exceeded' };
  }
  if (entry.mapRunArn ?? entry.backfillRunArn) {
    if (!mapRun)
      return { status: 'NOT_REDRIVABLE', reason: 'The execution that ran its Map Run is not known' };
    const parent = redriveStatusOf(mapRun.parent, nowMs);
    if (parent.status !== 'REDRIVABLE') return { status: 'NOT_REDRIVABLE', reason: parent.reason };
    if (mapRun.mapRunStatus === 'SUCCEEDED') {
      return { status: 'NOT_REDRIVABLE', reason: 'Map Run is SUCCEEDED and cannot be redriven' };
    }
    return { status: 'REDRIVABLE_BY_MAP_RUN' };
  }
  if (type === 'EXPRESS')
    return { status: 'NOT_REDRIVABLE', reason: 'Express executions cannot be redriven' };
  if (nowMs - Date.parse(entry.stopDate ?? entry.startDate) > REDRIVE_WINDOW_DAYS * DAY_MS) {
    return { status: 'NOT_REDRIVABLE', reason: 'Execution redrivable period exceeded' };
  }
  return { status: 'REDRIVABLE' };
}

export class ExecutionJournal {
  constructor(readonly directory: string) {}

  /**
   * Writes (or replaces) an execution's entry; written then renamed, so a reader never sees half.
   * Compact JSON: no command shows the file as text, every reader parses it (pretty entries of
   * earlier runs too), and an entry is mostly its history's JSON text, which indenting barely helps.
   */
  write(entry: JournalEntry): void {
    const file = this.fileOf(entry.executionArn);
    const text = `${JSON.stringify(entry)}\n`;
    try {
      writeFileSync(`${file}.tmp`, text);
    } catch (error) {
      // The directory is made when the first write finds it missing, not checked on every write.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(this.directory, { recursive: true });
      writeFileSync(`${file}.tmp`, text);
    }
    renameSync(`${file}.tmp`, file);
  }

  /**
   * Marks as ABORTED the executions an earlier process left RUNNING (it stopped, or was killed,
   * before they finished), so they can be listed and redriven like any stopped execution.
   */
  abortLeftovers(now: Date = new Date()): void {
    const cause = 'The local pipeline stopped before the execution finished';
    for (const entry of this.entries().filter((e) => e.status === 'RUNNING')) {
      const history = entry.history ?? [];
      const last = history.at(-1);
      this.write({
        ...entry,
        status: 'ABORTED',
        cause,
        stopDate: now.toISOString(),
        mapRuns: entry.mapRuns?.map((run) =>
          run.status === 'RUNNING' ? { ...run, status: 'ABORTED', stopDate: now.toISOString() } : run,
        ),
        history: [
          ...history,
          {
            timestamp: now.getTime(),
            type: 'ExecutionAborted',
            id: history.length + 1,
            previousEventId: last?.id ?? 0,
            executionAbortedEventDetails: { cause },
          },
        ],
      });
    }
  }

  get(executionArn: string): JournalEntry | undefined {
    const file = this.fileOf(executionArn);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as JournalEntry) : undefined;
  }

  has(executionArn: string): boolean {
    return existsSync(this.fileOf(executionArn));
  }

  entries(): JournalEntry[] {
    if (!existsSync(this.directory)) return [];
    return readdirSync(this.directory)
      .filter((file) => file.endsWith('.json'))
      .map((file) => JSON.parse(readFileSync(join(this.directory, file), 'utf8')) as JournalEntry)
      .sort((a, b) => a.startDate.localeCompare(b.startDate));
  }

  private fileOf(executionArn: string): string {
    const name = executionArn.split(':').pop() ?? '';
    const hash = createHash('sha256').update(executionArn).digest('hex').slice(0, 16);
    return join(this.directory, `${hash}-${name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80)}.json`);
  }
}
