import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { LocalQueue } from '../sqs/queues';

/**
 * The rule target's dead-letter queue, locally: the template's queue itself (local/sqs), so SQS
 * clients (`npm run replay-dead-letters`, `aws sqs receive-message`) read it through the local
 * endpoint as they read it on AWS; and a directory with one JSON file per message in it, so dead
 * letters survive a restart of `npm start` the way SQS messages outlive a deployment. A message's
 * file is written when EventBridge dead-letters it and removed when any client deletes (or purges)
 * it, or when it passes the queue's retention period (14 days of pipeline time, as SQS drops it); on
 * start, the files are put back in the queue under their message ids. Each file is the
 * message as `aws sqs receive-message --message-attribute-names All` shows it: the ORIGINAL event as
 * the body (EventBridge does not send the target input) and the attributes EventBridge adds
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
 */

/** The attributes EventBridge puts on a dead-lettered message. */
export interface DeadLetterAttributes {
  readonly RULE_ARN: string;
  readonly TARGET_ARN: string;
  /** e.g. `THROTTLING`, `INVALID_JSON`. */
  readonly ERROR_CODE: string;
  readonly ERROR_MESSAGE: string;
  /** `MaximumRetryAttempts` or `MaximumEventAgeInSeconds`; absent when the error was not retried. */
  readonly EXHAUSTED_RETRY_CONDITION?: 'MaximumRetryAttempts' | 'MaximumEventAgeInSeconds';
  readonly RETRY_ATTEMPTS: string;
}

/** One file of the store: an SQS message as ReceiveMessage returns it. */
export interface DeadLetterMessage {
  readonly MessageId: string;
  /** The event's JSON, byte for byte what the rule matched. */
  readonly Body: string;
  readonly MessageAttributes: Record<string, { readonly DataType: 'String'; readonly StringValue: string }>;
  readonly Attributes: { readonly SentTimestamp: string };
}

export class DeadLetterStore {
  /** Message id -> its file. */
  private readonly files = new Map<string, string>();

  constructor(
    readonly directory: string,
    /** The template's dead-letter queue. */
    readonly queue: LocalQueue,
  ) {
    // Listening first: a message kept past the queue's retention period (on the pipeline's clock) is
    // deleted as it goes back in, file and all, as SQS would have deleted it.
    queue.onDelete((messageId) => {
      const file = this.files.get(messageId);
      if (file) rmSync(file, { force: true });
      this.files.delete(messageId);
    });
    for (const file of this.fileNames()) {
      const message = messageOf(file);
      this.files.set(message.MessageId, file);
      queue.sendMessage(message.Body, {
        messageId: message.MessageId,
        messageAttributes: message.MessageAttributes,
        sentTimestampMs: Number(message.Attributes.SentTimestamp),
      });
    }
  }

  /** Sends `event` to the queue with its attributes, and keeps it in a file; returns the file written. */
  put(event: unknown, attributes: DeadLetterAttributes): string {
    const body = JSON.stringify(event);
    const messageAttributes = Object.fromEntries(
      Object.entries(attributes)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => [name, { DataType: 'String', StringValue: String(value) }]),
    ) as DeadLetterMessage['MessageAttributes'];
    const { MessageId } = this.queue.sendMessage(body, { messageAttributes });
    // Sent on the pipeline's clock, which the queue's retention period runs on too.
    const sentAt = this.queue.details(MessageId)!.sentTimestampMs!;
    const message: DeadLetterMessage = {
      MessageId,
      Body: body,
      MessageAttributes: messageAttributes,
      Attributes: { SentTimestamp: String(sentAt) },
    };
    mkdirSync(this.directory, { recursive: true });
    // The time first, so a directory listing is in arrival order; written then renamed, so that no
    // reader ever sees half a file.
    const file = join(this.directory, `${sentAt}-${MessageId}.json`);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(message, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    this.files.set(MessageId, file);
    return file;
  }

  /** The messages not yet deleted, oldest first. */
  messages(): DeadLetterMessage[] {
    return this.fileNames().map(messageOf);
  }

  count(): number {
    return this.queue.size;
  }

  private fileNames(): string[] {
    if (!existsSync(this.directory)) return [];
    return readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => join(this.directory, name));
  }
}

/**
 * A file that is not a message (edited by hand, say) goes back in the queue as its raw text under
 * its file name, so the replay reports it and leaves it.
 */
function messageOf(file: string): DeadLetterMessage {
  const text = readFileSync(file, 'utf8');
  try {
    const message = JSON.parse(text) as Partial<DeadLetterMessage>;
    if (typeof message.MessageId === 'string' && typeof message.Body === 'string') {
      return {
        MessageId: message.MessageId,
        Body: message.Body,
        MessageAttributes: message.MessageAttributes ?? {},
        Attributes: { SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()) },
      };
    }
  } catch {
    // Not JSON: handed on as is.
  }
  return {
    MessageId: file.slice(file.lastIndexOf('/') + 1),
    Body: text,
    MessageAttributes: {},
    Attributes: { SentTimestamp: String(Date.now()) },
  };
}
