import type { Clock } from '../../clock';

/**
 * An execution's history as GetExecutionHistory returns it: events numbered from 1, each with the id
 * of the event that led to it (`previousEventId`: within one branch or Map iteration, the event
 * before it there), its time, and its details under the field AWS names for its type
 * (`TaskStateEntered` → `stateEnteredEventDetails`, `TaskFailed` → `taskFailedEventDetails`).
 */

export interface HistoryEvent {
  /** Epoch milliseconds, as the execution's clock told it. */
  readonly timestamp: number;
  readonly type: string;
  readonly id: number;
  readonly previousEventId: number;
  readonly [details: string]: unknown;
}

type EventDetails = Record<string, unknown>;

/** Step Functions Standard's limit: an execution that would record more fails. */
export const MAX_HISTORY_EVENTS = 25_000;

/** Where in the history a branch of the run is: the id of its latest event. */
export interface HistoryCursor {
  last: number;
}

export class ExecutionHistory {
  /** The events, while held in memory: undefined once released (see release). */
  private held: HistoryEvent[] | undefined;
  /** Where released events are read back from. */
  private readBack?: () => readonly HistoryEvent[];
  private releasedLength = 0;
  /** Events recorded so far, kept or not: the last one's id. */
  private count: number;

  /**
   * @param kept Whether the events are kept. An Express execution's are not: Step Functions keeps no
   * history of one (GetExecutionHistory refuses its ARN; its record is CloudWatch Logs), and it has
   * no 25,000-event limit. Its events are still numbered, as its log's are.
   */
  constructor(
    private readonly clock: Clock,
    earlier: readonly HistoryEvent[] = [],
    readonly kept = true,
  ) {
    this.held = [...earlier];
    this.count = this.held.at(-1)?.id ?? 0;
  }

  /** The events, in order: read back from where they were released to, if they were. */
  get events(): readonly HistoryEvent[] {
    return this.held ?? this.readBack?.() ?? [];
  }

  /** How many events are kept (what the 25,000-event limit counts), without reading them back. */
  get length(): number {
    return this.held?.length ?? this.releasedLength;
  }

  /** Whether the events were released and are read back on demand. */
  get released(): boolean {
    return this.held === undefined;
  }

  /**
   * Lets go of the events once they are kept where `readBack` reads them (an ended execution's, in
   * the journal): the process every local task is forked from holds no ended execution's history
   * (some 170 KB each). Adding an event (a redrive) holds them again.
   */
  release(readBack: () => readonly HistoryEvent[]): void {
    if (!this.held) return;
    this.releasedLength = this.held.length;
    this.held = undefined;
    this.readBack = readBack;
  }

  /** A cursor at the latest event: where a new branch of the run starts. */
  cursor(): HistoryCursor {
    return { last: this.count };
  }

  /**
   * Records an event after the cursor's and moves the cursor to it; returns its id. Details that
   * take work to make (the JSON of an input or output) are given as a function: made only if kept.
   */
  add(cursor: HistoryCursor, type: string, details?: EventDetails | (() => EventDetails)): number {
    const id = ++this.count;
    if (this.kept) {
      if (typeof details === 'function') details = details();
      this.held ??= [...this.events];
      this.readBack = undefined;
      this.held.push({
        timestamp: this.clock.now(),
        type,
        id,
        previousEventId: cursor.last,
        ...(details && { [detailsField(type)]: details }),
      });
    }
    cursor.last = id;
    return id;
  }

  get full(): boolean {
    return this.kept && this.count >= MAX_HISTORY_EVENTS;
  }
}

/** The field an event's details sit under, as AWS names it; worked out once per event type. */
const detailsFields = new Map<string, string>();

function detailsField(type: string): string {
  let field = detailsFields.get(type);
  if (field === undefined) {
    if (type.endsWith('StateEntered')) field = 'stateEnteredEventDetails';
    else if (type.endsWith('StateExited')) field = 'stateExitedEventDetails';
    else field = `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
    detailsFields.set(type, field);
  }
  return field;
}
