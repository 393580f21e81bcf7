import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import type { DeadLetter, DeadLetterSource } from '../../shared/dead-letter-replay';

/**
 * The rule target's dead-letter queue, locally: a directory with one JSON file per event, so dead
 * letters survive a restart of `npm start` the way SQS messages outlive a deployment. Each file is
 * the message as `aws sqs receive-message --message-attribute-names All` shows it: the ORIGINAL event
 * as the body (EventBridge does not send the target input) and the attributes EventBridge adds
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
  constructor(readonly directory: string) {}

  /** Stores `event` with its attributes; returns the file written. */
  put(event: unknown, attributes: DeadLetterAttributes): string {
    mkdirSync(this.directory, { recursive: true });
    const sentAt = Date.now();
    const message: DeadLetterMessage = {
      MessageId: randomUUID(),
      Body: JSON.stringify(event),
      MessageAttributes: Object.fromEntries(
        Object.entries(attributes)
          .filter(([, value]) => value !== undefined)
          .map(([name, value]) => [name, { DataType: 'String', StringValue: String(value) }]),
      ),
      Attributes: { SentTimestamp: String(sentAt) },
    };
    // The time first, so a directory listing is in arrival order; written then renamed, so that a
    // replay running at the same moment never reads half a file.
    const file = join(this.directory, `${sentAt}-${message.MessageId}.json`);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(message, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    return file;
  }

  /** The stored messages, oldest first. */
  messages(): DeadLetterMessage[] {
    return this.files().map((file) => this.read(file));
  }

  count(): number {
    return this.files().length;
  }

  /**
   * The store as the replay loop reads a queue: each message is received once per source (like an
   * SQS visibility timeout longer than the run), and its file is removed only when `delete` is called.
   */
  source(): DeadLetterSource {
    // Message id -> file, for delete; and the files handed out, so none is received twice.
    const received = new Map<string, string>();
    const receivedFiles = new Set<string>();
    return {
      receive: async (max) => {
        const letters: DeadLetter[] = [];
        for (const file of this.files()) {
          if (letters.length >= max) break;
          if (receivedFiles.has(file)) continue;
          const letter = letterOf(file);
          received.set(letter.id, file);
          receivedFiles.add(file);
          letters.push(letter);
        }
        return letters;
      },
      delete: async (letter) => {
        const file = received.get(letter.id);
        if (file) rmSync(file, { force: true });
      },
    };
  }

  private files(): string[] {
    if (!existsSync(this.directory)) return [];
    return readdirSync(this.directory)
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => join(this.directory, name));
  }

  private read(file: string): DeadLetterMessage {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as DeadLetterMessage;
    } catch (error) {
      throw new Error(
        `${file} is not a dead-letter message (${(error as Error).message}); move it out of ${this.directory}`,
        { cause: error },
      );
    }
  }
}

/** A file that is not a message is handed on as its raw text, so the replay reports it and leaves it. */
function letterOf(file: string): DeadLetter {
  const text = readFileSync(file, 'utf8');
  try {
    const message = JSON.parse(text) as Partial<DeadLetterMessage>;
    if (typeof message.MessageId === 'string' && typeof message.Body === 'string') {
      return { id: message.MessageId, body: message.Body };
    }
  } catch {
    // Not JSON: handed on as is.
  }
  return { id: basename(file), body: text };
}
