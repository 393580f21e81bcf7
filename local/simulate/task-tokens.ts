import { StatesError } from '../stepfunctions/errors';
import { parseTaskOutput, sfnIntegrationErrorName, TokenLedger } from '../stepfunctions/task-tokens';
import type { Json } from './asl';
import { ServiceError } from './service-error';

/**
 * Step Functions' task tokens, for callback tasks (`.waitForTaskToken`), in virtual time: the same
 * token lifecycle as the local runner (local/stepfunctions/task-tokens.ts TokenLedger): a token is
 * issued when the task starts, and SendTaskSuccess or SendTaskFailure on it ends the task, once. A
 * token whose task has already ended (it timed out, or was answered) is refused with
 * `Sfn.TaskTimedOutException`, one never issued with `Sfn.InvalidTokenException`.
 */

export interface TokenWaiter {
  succeed(output: Json): void;
  fail(error: string, cause: string): void;
}

export class TaskTokens {
  private issued = 0;
  // Numbered, not random: a run is reproducible from its seed.
  private readonly ledger = new TokenLedger<TokenWaiter>(() => `task-token-${++this.issued}`);
  /** Calls refused because the token's task was no longer waiting. */
  refused = 0;
  peakWaiting = 0;

  issue(waiter: TokenWaiter): string {
    const token = this.ledger.issue(waiter);
    this.peakWaiting = Math.max(this.peakWaiting, this.ledger.waitingCount);
    return token;
  }

  /** The token's task ended without an answer (its TimeoutSeconds passed). */
  end(token: string): void {
    this.ledger.end(token);
  }

  sendTaskSuccess(parameters: Record<string, Json>): Json {
    const token = String(parameters.TaskToken);
    const output = this.call(() => {
      this.ledger.answerable(token);
      return parseTaskOutput(String(parameters.Output)) as Json;
    });
    this.ledger.end(token)?.succeed(output);
    return {};
  }

  sendTaskFailure(parameters: Record<string, Json>): Json {
    const token = String(parameters.TaskToken);
    this.call(() => this.ledger.answerable(token));
    this.ledger.end(token)?.fail(String(parameters.Error ?? ''), String(parameters.Cause ?? ''));
    return {};
  }

  /** A call on the ledger, its error named as the AWS SDK integration reports it. */
  private call<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      if (!(error instanceof StatesError)) throw error;
      if (error.name !== 'InvalidOutput') this.refused++;
      throw new ServiceError(sfnIntegrationErrorName(error), error.message);
    }
  }
}
