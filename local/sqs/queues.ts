import { createHash, randomUUID } from 'node:crypto';

import type { LocalDeployment } from '../cloudformation/template';

/**
 * SQS's slice of the template: every `AWS::SQS::Queue`, as an in-process queue at the URL its `Ref`
 * resolves to locally (local/cloudformation/template.ts: `https://sqs.<region>.amazonaws.com/<account>/<logical id>`).
 * Hand-written, because no maintained SQS emulator runs in Node (ElasticMQ and LocalStack need a JVM
 * or Docker). It serves what the state machines call: SendMessage, ReceiveMessage (long polling: it
 * answers as soon as a message is visible), DeleteMessage; standard queues, approximately FIFO, in
 * memory (a restart starts empty, as the executions that sent the messages are gone too).
 *
 * Long polls are scaled as the local Step Functions scales Retry intervals (`timeScale`, the
 * pipeline's `retryIntervalScale`, 0.01 by default): a 20 s long poll answers "empty" after 200 ms,
 * so a releaser that finds nobody in line moves on as fast as its retries do. The visibility timeout
 * is not scaled: it is what keeps a message being handed on from reaching a second releaser, and a
 * shorter one would make that happen locally where it does not on AWS.
 *
 * Errors are named as the AWS SDK names them (`QueueDoesNotExist`, `ReceiptHandleIsInvalid`); a
 * Step Functions integration renames them (local/stepfunctions/integrations.ts).
 */

export interface SqsMessage {
  readonly MessageId: string;
  readonly ReceiptHandle: string;
  readonly MD5OfBody: string;
  readonly Body: string;
}

export interface ReceiveMessageRequest {
  /** 1 to 10. @default 1 */
  readonly MaxNumberOfMessages?: number;
  /** Long polling, 0 to 20 (before scaling). @default 0 */
  readonly WaitTimeSeconds?: number;
  /** Overrides the queue's VisibilityTimeout for the messages received. */
  readonly VisibilityTimeout?: number;
}

/** An SQS error as the SDK names it. */
export class SqsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5: string;
  /** ms (performance clock) from which it can be received. */
  visibleAt: number;
  receiptHandle?: string;
}

interface Poller {
  readonly max: number;
  readonly visibilityMs: number;
  readonly resolve: (messages: SqsMessage[]) => void;
  timer?: NodeJS.Timeout;
}

/** SQS's default VisibilityTimeout when the template sets none. */
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

export class LocalQueue {
  private readonly messages: StoredMessage[] = [];
  private readonly pollers: Poller[] = [];
  private wakeTimer?: NodeJS.Timeout;
  /** Messages sent and deleted so far (for reports and tests). */
  sent = 0;
  deleted = 0;

  constructor(
    readonly url: string,
    private readonly visibilityTimeoutSeconds: number,
    private readonly timeScale: number,
  ) {}

  /** Messages not yet deleted, visible or in flight. */
  get size(): number {
    return this.messages.length;
  }

  sendMessage(body: string): { MessageId: string; MD5OfMessageBody: string } {
    const message: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5: md5(body),
      visibleAt: performance.now(),
    };
    this.messages.push(message);
    this.sent++;
    this.serve();
    return { MessageId: message.messageId, MD5OfMessageBody: message.md5 };
  }

  /** `{ Messages }` when any was visible within the wait, `{}` otherwise, as the SDK returns it. */
  async receiveMessage(request: ReceiveMessageRequest = {}): Promise<{ Messages?: SqsMessage[] }> {
    const max = request.MaxNumberOfMessages ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw new SqsError(
        'InvalidParameterValue',
        `MaxNumberOfMessages ${max} is not an integer from 1 to 10`,
      );
    }
    const visibilityMs = (request.VisibilityTimeout ?? this.visibilityTimeoutSeconds) * 1000;
    const now = this.take(max, visibilityMs);
    if (now.length > 0 || !request.WaitTimeSeconds) return now.length > 0 ? { Messages: now } : {};
    const messages = await new Promise<SqsMessage[]>((resolve) => {
      const poller: Poller = { max, visibilityMs, resolve };
      poller.timer = setTimeout(
        () => {
          this.pollers.splice(this.pollers.indexOf(poller), 1);
          resolve([]);
        },
        request.WaitTimeSeconds! * 1000 * this.timeScale,
      );
      this.pollers.push(poller);
      this.serve(); // arms the wake-up for a message in flight turning visible
    });
    return messages.length > 0 ? { Messages: messages } : {};
  }

  /** Deletes the message last received with `receiptHandle`. */
  deleteMessage(receiptHandle: string): void {
    const index = this.messages.findIndex((m) => m.receiptHandle === receiptHandle);
    if (index < 0) {
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`,
      );
    }
    this.messages.splice(index, 1);
    this.deleted++;
  }

  /** Hands visible messages to waiting long polls, oldest poll first; wakes itself when one turns visible. */
  private serve(): void {
    while (this.pollers.length > 0) {
      const poller = this.pollers[0];
      const messages = this.take(poller.max, poller.visibilityMs);
      if (messages.length === 0) break;
      this.pollers.shift();
      clearTimeout(poller.timer);
      poller.resolve(messages);
    }
    clearTimeout(this.wakeTimer);
    const inFlight = this.messages.filter((m) => m.visibleAt > performance.now());
    if (this.pollers.length > 0 && inFlight.length > 0) {
      const next = Math.min(...inFlight.map((m) => m.visibleAt));
      this.wakeTimer = setTimeout(() => this.serve(), Math.max(0, next - performance.now()));
    }
  }

  /** Up to `max` visible messages, oldest first, each made invisible for `visibilityMs` under a new handle. */
  private take(max: number, visibilityMs: number): SqsMessage[] {
    const now = performance.now();
    const taken: SqsMessage[] = [];
    for (const message of this.messages) {
      if (taken.length >= max) break;
      if (message.visibleAt > now) continue;
      message.visibleAt = now + visibilityMs;
      message.receiptHandle = `${message.messageId}#${randomUUID()}`;
      taken.push({
        MessageId: message.messageId,
        ReceiptHandle: message.receiptHandle,
        MD5OfBody: message.md5,
        Body: message.body,
      });
    }
    return taken;
  }
}

/** The template's queues, by local URL. */
export class LocalSqs {
  private readonly queues = new Map<string, LocalQueue>();

  constructor(queues: ReadonlyArray<{ url: string; visibilityTimeoutSeconds?: number }>, timeScale: number) {
    for (const { url, visibilityTimeoutSeconds } of queues) {
      this.queues.set(
        url,
        new LocalQueue(url, visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS, timeScale),
      );
    }
  }

  /** Every `AWS::SQS::Queue` of the template, with its VisibilityTimeout. */
  static fromDeployment(deployment: LocalDeployment, timeScale: number): LocalSqs {
    return new LocalSqs(
      deployment.resourcesOfType('AWS::SQS::Queue').map(([logicalId, resource]) => {
        const visibility = deployment.resolve(resource.Properties?.VisibilityTimeout);
        return {
          url: deployment.ref(logicalId),
          visibilityTimeoutSeconds: visibility === undefined ? undefined : Number(visibility),
        };
      }),
      timeScale,
    );
  }

  /** The queue at `url`; QueueDoesNotExist for any other URL, as SQS answers. */
  queue(url: unknown): LocalQueue {
    const queue = typeof url === 'string' ? this.queues.get(url) : undefined;
    if (!queue) {
      throw new SqsError(
        'QueueDoesNotExist',
        `The specified queue ${String(url)} does not exist; local queues: ${[...this.queues.keys()].join(', ')}`,
      );
    }
    return queue;
  }

  all(): LocalQueue[] {
    return [...this.queues.values()];
  }
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
