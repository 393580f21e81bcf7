import { randomBytes } from 'node:crypto';

import type { Clock } from '../clock';
import { StatesError } from './asl/errors';
import type { Json } from './asl/paths';

/**
 * Task tokens, as Step Functions keeps them for the callback pattern (`.waitForTaskToken`): one per
 * attempt of such a state, answered by SendTaskSuccess / SendTaskFailure, kept alive by
 * SendTaskHeartbeat. Time (HeartbeatSeconds) comes from the clock.
 *
 * As on AWS, a token whose task has ended (completed, timed out, its execution ended) fails with
 * TaskTimedOut; a token that was never issued fails with InvalidToken. The errors carry the API's
 * exception names (`TaskTimedOut`, `InvalidToken`, `InvalidOutput`); `sfnIntegrationErrorName`
 * gives Step Functions' name for them in an `aws-sdk:sfn:*` Task.
 */

interface Waiter {
  readonly settled: Promise<Json>;
  resolve(output: Json): void;
  reject(error: Error): void;
  /** Restarts the heartbeat timer (SendTaskHeartbeat). */
  beat?: () => void;
  /** Cancels the heartbeat timer. */
  stop?: () => void;
}

export class TaskTokens {
  /** Tasks not ended yet. */
  private readonly waiting = new Map<string, Waiter>();
  /** Issued and not yet waited on: a task answered before `wait` keeps its answer here. */
  private readonly unclaimed = new Map<string, Waiter>();
  private readonly closed = new Set<string>();
  /** The most tasks that waited at once (the planner's report). */
  peakWaiting = 0;

  constructor(
    private readonly clock: Clock,
    // Opaque and long, as Step Functions' tokens are; never reused.
    private readonly newToken: () => string = () => randomBytes(96).toString('base64'),
  ) {}

  /** A fresh token, answerable at once (a releaser may hand the slot on before `wait` is called). */
  issue(): string {
    let resolve!: (output: Json) => void;
    let reject!: (error: Error) => void;
    const settled = new Promise<Json>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    settled.catch(() => undefined); // settled before anyone waits: not an unhandled rejection
    const token = this.newToken();
    const waiter = { settled, resolve, reject };
    this.waiting.set(token, waiter);
    this.unclaimed.set(token, waiter);
    this.peakWaiting = Math.max(this.peakWaiting, this.waiting.size);
    return token;
  }

  get waitingCount(): number {
    return this.waiting.size;
  }

  /**
   * Resolves with SendTaskSuccess's output, rejects with SendTaskFailure's error and cause, or with
   * States.HeartbeatTimeout when no heartbeat came within `heartbeatSeconds`.
   */
  wait(token: string, heartbeatSeconds?: number): Promise<Json> {
    const waiter = this.unclaimed.get(token);
    if (!waiter) {
      return Promise.reject(
        new Error('Task token was not issued by TaskTokens.issue, or is waited on already'),
      );
    }
    this.unclaimed.delete(token);
    if (heartbeatSeconds !== undefined && this.waiting.has(token)) {
      let timer: AbortController | undefined;
      waiter.beat = () => {
        timer?.abort();
        const current = new AbortController();
        timer = current;
        this.clock.sleep(heartbeatSeconds * 1000, current.signal).then(
          () => this.settle(token, (w) => w.reject(new StatesError('States.HeartbeatTimeout', ''))),
          () => undefined,
        );
      };
      waiter.stop = () => timer?.abort();
      waiter.beat();
    }
    return waiter.settled;
  }

  /** SendTaskSuccess: `output` must be a JSON text. */
  sendTaskSuccess(token: string, output: string): void {
    this.answerable(token);
    const parsed = parseTaskOutput(output);
    this.settle(token, (w) => w.resolve(parsed));
  }

  /** SendTaskFailure: the waiting state fails with `error` (an empty name when none) and `cause`. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.answerable(token);
    this.settle(token, (w) => w.reject(new StatesError(error ?? '', cause ?? '')));
  }

  sendTaskHeartbeat(token: string): void {
    this.answerable(token).beat?.();
  }

  /** The task ended some other way (timed out, its execution ended): later calls fail with TaskTimedOut. */
  close(token: string): void {
    this.unclaimed.delete(token);
    this.settle(token, (w) => w.reject(new StatesError('States.Aborted', 'The task ended')));
  }

  isWaiting(token: string): boolean {
    return this.waiting.has(token);
  }

  private answerable(token: string): Waiter {
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.closed.has(token)) {
      throw new StatesError(
        'TaskTimedOut',
        'Task Timed Out: the task token has either expired or the task associated with the token has already been closed',
      );
    }
    throw new StatesError('InvalidToken', 'Invalid token');
  }

  private settle(token: string, how: (waiter: Waiter) => void): void {
    const waiter = this.waiting.get(token);
    if (!waiter) return;
    this.waiting.delete(token);
    this.closed.add(token);
    waiter.stop?.();
    how(waiter);
  }
}

/** SendTaskSuccess's `output`, which must be a JSON text. */
export function parseTaskOutput(output: string): Json {
  try {
    return JSON.parse(output) as Json;
  } catch {
    throw new StatesError('InvalidOutput', 'The provided JSON output data is invalid');
  }
}

/** Step Functions' rule for its AWS SDK integration: `Sfn.<error>Exception`. */
export function sfnIntegrationErrorName(error: StatesError): string {
  return `Sfn.${error.name.endsWith('Exception') ? error.name : `${error.name}Exception`}`;
}
