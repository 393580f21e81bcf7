import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

import { type RuleTargetInputProperties, targetInputFor } from './input-transformer';

/**
 * Replays events that EventBridge could not deliver, one execution per event. Shared
 * by `npm run replay-dead-letters` (SQS + Step Functions) and the local pipeline, so the
 * loop that is tested locally is the loop that runs against AWS.
 */

/** One dead-lettered event: EventBridge puts the original event, not the target input, in the queue. */
export interface DeadLetter {
  readonly id: string;
  readonly body: string;
}

export interface DeadLetterSource {
  /** Up to `max` letters not yet received in this run; an empty batch ends the replay. */
  receive(max: number): Promise<readonly DeadLetter[]>;
  /** Called only after the letter's execution has started. */
  delete(letter: DeadLetter): Promise<void>;
}

/** How long a received message stays hidden: one replay then sees each message once. */
const VISIBILITY_TIMEOUT_SECONDS = 300;

/**
 * The dead-letter queue as the replay reads it, through SQS: on AWS, and on the local endpoint
 * (`npm start -- --replay-dead-letters`), so both read the queue the same way. `release` makes the
 * messages received and not deleted visible again (a dry run leaves the queue as it was).
 */
export function sqsDeadLetterSource(
  sqs: SQSClient,
  queueUrl: string,
): DeadLetterSource & { release(): Promise<void> } {
  const receipts = new Map<string, string>();
  return {
    async receive(max) {
      const response = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 1,
          VisibilityTimeout: VISIBILITY_TIMEOUT_SECONDS,
        }),
      );
      return (response.Messages ?? []).map((m): DeadLetter => {
        receipts.set(m.MessageId ?? '', m.ReceiptHandle ?? '');
        return { id: m.MessageId ?? '', body: m.Body ?? '' };
      });
    },
    async delete(letter) {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipts.get(letter.id) }),
      );
      receipts.delete(letter.id);
    },
    async release() {
      for (const receiptHandle of receipts.values()) {
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
      receipts.clear();
    },
  };
}

/** Starts an execution and returns its id; `name` makes a second replay of the same event a no-op. */
export type StartExecution = (input: unknown, name: string) => Promise<string>;

export interface ReplayOptions {
  readonly source: DeadLetterSource;
  /** The rule target's input settings (Input/InputPath/InputTransformer), as deployed. */
  readonly target: RuleTargetInputProperties;
  readonly startExecution: StartExecution;
  /** @default 10 - SQS's largest batch */
  readonly batchSize?: number;
  /**
   * Work out each letter's execution (name and input) without starting it or deleting the letter.
   * @default false
   */
  readonly dryRun?: boolean;
  readonly onProgress?: (line: ReplayOutcome) => void;
}

export interface ReplayOutcome {
  readonly letterId: string;
  /** The execution started; in a dry run, the name it would get. */
  readonly executionId?: string;
  /** In a dry run, the input the execution would get. */
  readonly input?: unknown;
  /** Why the letter stays in the queue. */
  readonly error?: string;
}

export interface ReplayReport {
  readonly replayed: readonly ReplayOutcome[];
  readonly kept: readonly ReplayOutcome[];
}

/**
 * Execution names allow 80 characters of [A-Za-z0-9-_]; an EventBridge event id is a
 * UUID, so `replay-<id>` is unique per event and stable across replays.
 */
export function replayExecutionName(event: unknown, letter: DeadLetter): string {
  const id = (event as { id?: unknown })?.id;
  const base = typeof id === 'string' && id !== '' ? id : letter.id;
  return `replay-${base.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 80);
}

export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayReport> {
  const replayed: ReplayOutcome[] = [];
  const kept: ReplayOutcome[] = [];
  for (;;) {
    const batch = await options.source.receive(options.batchSize ?? 10);
    if (batch.length === 0) break;
    for (const letter of batch) {
      const outcome = await replayOne(letter, options);
      (outcome.error ? kept : replayed).push(outcome);
      options.onProgress?.(outcome);
    }
  }
  return { replayed, kept };
}

async function replayOne(letter: DeadLetter, options: ReplayOptions): Promise<ReplayOutcome> {
  let event: unknown;
  try {
    event = JSON.parse(letter.body);
  } catch {
    return {
      letterId: letter.id,
      error: 'the message body is not an EventBridge event (not JSON); left in the queue',
    };
  }
  try {
    const input = targetInputFor(options.target, event);
    const name = replayExecutionName(event, letter);
    if (options.dryRun) return { letterId: letter.id, executionId: name, input };
    const executionId = await options.startExecution(input, name);
    // Deleting only after the start succeeded: a crash in between replays the event
    // again, and the stable execution name turns that into a no-op.
    await options.source.delete(letter);
    return { letterId: letter.id, executionId };
  } catch (err) {
    return { letterId: letter.id, error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}
