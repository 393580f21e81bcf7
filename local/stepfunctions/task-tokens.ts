import { randomBytes } from 'node:crypto';

import { StatesError } from './errors';

/**
 * Task tokens, as Step Functions keeps them for the callback pattern (`.waitForTaskToken`):
 * aws-local-stepfunctions 3 has none (no `$$.Task.Token`, no waiting), so the local runner issues one
 * per attempt of such a state and waits here until SendTaskSuccess or SendTaskFailure settles it or
 * the state's TimeoutSeconds passes (States.Timeout; the deployed timeout, not scaled: it is a
 * real-time wait, like a task's TimeoutSeconds). The errors the API calls throw carry the API's
 * exception names (`TaskTimedOut`, `InvalidToken`, `InvalidOutput`); a service integration
 * (`aws-sdk:sfn:*`) names them as Step Functions does, `Sfn.<name>Exception`.
 *
 * As on AWS, a token whose task has ended (completed, timed out, or its execution ended) fails with
 * TaskTimedOut ("the task token has either expired or the task associated with the token has
 * already been closed"); a token that was never issued fails with InvalidToken. TaskDoesNotExist is
 * an activity's error and never arises here.
 */

/**
 * Which tokens have a task waiting and which have ended, however they ended: the lifecycle the local
 * runner (TaskTokens, below, in real time) and `npm run simulate` (in virtual time) both keep, each
 * with its own kind of waiter. Errors carry the API's names (`TaskTimedOut`, `InvalidToken`,
 * `InvalidOutput`); `sfnIntegrationErrorName` gives Step Functions' name for them.
 */
export class TokenLedger<W> {
  private readonly waiting = new Map<string, W>();
  private readonly closed = new Set<string>();

  constructor(private readonly newToken: () => string) {}

  issue(waiter: W): string {
    const token = this.newToken();
    this.waiting.set(token, waiter);
    return token;
  }

  get waitingCount(): number {
    return this.waiting.size;
  }

  waitingTokens(): string[] {
    return [...this.waiting.keys()];
  }

  isWaiting(token: string): boolean {
    return this.waiting.has(token);
  }

  /** The token's task ended (answered, timed out, its execution ended): its waiter, if it was waiting. */
  end(token: string): W | undefined {
    const waiter = this.waiting.get(token);
    if (waiter === undefined) return undefined;
    this.waiting.delete(token);
    this.closed.add(token);
    return waiter;
  }

  /** The waiter SendTaskSuccess/SendTaskFailure may answer, or the error Step Functions answers. */
  answerable(token: string): W {
    const waiter = this.waiting.get(token);
    if (waiter !== undefined) return waiter;
    if (this.closed.has(token)) {
      throw new StatesError(
        'TaskTimedOut',
        'Task Timed Out: the task token has either expired or the task associated with the token has already been closed',
      );
    }
    throw new StatesError('InvalidToken', 'Invalid token');
  }
}

/** SendTaskSuccess's `output`, which must be a JSON text. */
export function parseTaskOutput(output: string): unknown {
  try {
    return JSON.parse(output) as unknown;
  } catch {
    throw new StatesError('InvalidOutput', 'The provided JSON output data is invalid');
  }
}

/** Step Functions' rule for its AWS SDK integration: `Sfn.<error>Exception`. */
export function sfnIntegrationErrorName(error: StatesError): string {
  return `Sfn.${error.name}Exception`;
}

interface Waiter {
  readonly settled: Promise<unknown>;
  resolve(output: unknown): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

export class TaskTokens {
  // Opaque and long, as Step Functions' tokens are; never reused.
  private readonly ledger = new TokenLedger<Waiter>(() => randomBytes(96).toString('base64'));
  /** Every token issued, until `wait` takes it: the promise outlives the settlement. */
  private readonly unclaimed = new Map<string, Waiter>();
  private stoppedCause: string | undefined;

  /** A fresh token for one attempt of a `.waitForTaskToken` state; `wait` on it next. */
  issue(): string {
    // Settleable from the moment it is issued: a releaser may hand the slot on before `wait` is called.
    let resolve!: (output: unknown) => void;
    let reject!: (error: Error) => void;
    const settled = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    settled.catch(() => undefined); // rejected before anyone waits: not an unhandled rejection
    const waiter: Waiter = { settled, resolve, reject };
    const token = this.ledger.issue(waiter);
    this.unclaimed.set(token, waiter);
    if (this.stoppedCause !== undefined) {
      this.settle(token, (w) => w.reject(new StatesError('States.Aborted', this.stoppedCause!)));
    }
    return token;
  }

  /**
   * Resolves with SendTaskSuccess's output (parsed JSON), rejects with SendTaskFailure's error and
   * cause, or with States.Timeout after `timeoutSeconds`.
   */
  wait(token: string, timeoutSeconds?: number): Promise<unknown> {
    const waiter = this.unclaimed.get(token);
    if (!waiter) return Promise.reject(new Error('Task token was not issued by TaskTokens.issue'));
    this.unclaimed.delete(token);
    if (timeoutSeconds !== undefined && this.ledger.isWaiting(token)) {
      waiter.timer = setTimeout(
        () =>
          this.settle(token, (w) =>
            w.reject(
              new StatesError('States.Timeout', `The task did not complete within ${timeoutSeconds} s`),
            ),
          ),
        timeoutSeconds * 1000,
      );
    }
    return waiter.settled;
  }
  /** SendTaskSuccess: `output` must be a JSON text. */
  sendTaskSuccess(token: string, output: string): void {
    this.ledger.answerable(token);
    const parsed = parseTaskOutput(output);
    this.settle(token, (w) => w.resolve(parsed));
  }

  /** SendTaskFailure: the waiting state fails with `error` (States.TaskFailed when none) and `cause`. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.ledger.answerable(token);
    this.settle(token, (w) => w.reject(new StatesError(error ?? 'States.TaskFailed', cause ?? '')));
  }

  /** The task ended some other way (its execution ended): later calls on the token fail with TaskTimedOut. */
  close(token: string): void {
    this.unclaimed.delete(token);
    this.settle(token, (w) => w.reject(new StatesError('States.Aborted', 'The execution ended')));
  }

  /** Whether a task is waiting on `token`. */
  isWaiting(token: string): boolean {
    return this.ledger.isWaiting(token);
  }

  /**
   * Fails every waiting task, and every one that starts waiting later, with States.Aborted: the local
   * pipeline is stopping without draining, and nothing will hand them a slot.
   */
  stopAll(cause: string): void {
    this.stoppedCause = cause;
    for (const token of this.ledger.waitingTokens()) {
      this.settle(token, (w) => w.reject(new StatesError('States.Aborted', cause)));
    }
  }

  private settle(token: string, how: (waiter: Waiter) => void): void {
    const waiter = this.ledger.end(token);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    how(waiter);
  }
}
