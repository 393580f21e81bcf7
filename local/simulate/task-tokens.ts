import type { Json } from './asl';
import { ServiceError } from './service-error';

/**
 * Step Functions' task tokens, for callback tasks (`.waitForTaskToken`): a token is issued when the
 * task starts, and SendTaskSuccess or SendTaskFailure on it ends the task, once. A token whose task
 * has already ended (it timed out, or was answered) is refused with `Sfn.TaskTimedOutException`, one
 * never issued with `Sfn.InvalidTokenException`: AWS SDK integrations name errors
 * `<Service>.<Exception>`.
 */

export interface TokenWaiter {
  succeed(output: Json): void;
  fail(error: string, cause: string): void;
}

export class TaskTokens {
  private readonly waiting = new Map<string, TokenWaiter>();
  private readonly ended = new Set<string>();
  private issued = 0;
  /** Calls refused because the token's task was no longer waiting. */
  refused = 0;
  peakWaiting = 0;

  issue(waiter: TokenWaiter): string {
    const token = `task-token-${++this.issued}`;
    this.waiting.set(token, waiter);
    this.peakWaiting = Math.max(this.peakWaiting, this.waiting.size);
    return token;
  }

  /** The token's task ended without an answer (its TimeoutSeconds passed). */
  end(token: string): void {
    if (this.waiting.delete(token)) this.ended.add(token);
  }

  sendTaskSuccess(parameters: Record<string, Json>): Json {
    const waiter = this.take(String(parameters.TaskToken));
    let output: Json;
    try {
      output = JSON.parse(String(parameters.Output)) as Json;
    } catch {
      throw new ServiceError('Sfn.InvalidOutputException', 'Output is not valid JSON');
    }
    waiter.succeed(output);
    return {};
  }

  sendTaskFailure(parameters: Record<string, Json>): Json {
    this.take(String(parameters.TaskToken)).fail(
      String(parameters.Error ?? ''),
      String(parameters.Cause ?? ''),
    );
    return {};
  }

  private take(token: string): TokenWaiter {
    const waiter = this.waiting.get(token);
    if (waiter) {
      this.end(token);
      return waiter;
    }
    this.refused++;
    throw this.ended.has(token)
      ? new ServiceError('Sfn.TaskTimedOutException', 'Task Timed Out: the task of this token has ended')
      : new ServiceError('Sfn.InvalidTokenException', 'Invalid Token');
  }
}
