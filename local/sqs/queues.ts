import type { Clock } from '../clock';
import type { LocalDeployment } from '../cloudformation/template';
import {
  QueueMessages,
  type QueueSettings,
  queueSettings,
  type ReceivedMessage,
  type SendOptions,
  SqsError,
  withQueueDefaults,
} from './queue-messages';

/**
 * SQS's slice of the template: every `AWS::SQS::Queue`, as an in-process queue at the URL its `Ref`
 * resolves to locally (local/cloudformation/template.ts: `https://sqs.<region>.amazonaws.com/<account>/<logical id>`).
 * It serves what the state machines call: SendMessage, ReceiveMessage (long polling: it answers as
 * soon as a message is visible), DeleteMessage; the messages themselves are kept by
 * queue-messages.ts, as the simulator keeps them. In memory: a restart starts empty, as the
 * executions that sent the messages are gone too.
 *
 * Long polls and visibility timeouts run on the pipeline's Clock, like every other wait: a sped-up
 * clock shortens both alike, so their ratio to the state machines' retries and timeouts is AWS's.
 *
 * Errors are named as the AWS SDK names them (`QueueDoesNotExist`, `ReceiptHandleIsInvalid`); a
 * Step Functions integration renames them (local/stepfunctions/integrations/sqs.ts).
 */

export type SqsMessage = ReceivedMessage;

export interface ReceiveMessageRequest {
  /** 1 to 10. @default 1 */
  readonly MaxNumberOfMessages?: number;
  /** Long polling, 0 to 20. @default the queue's ReceiveMessageWaitTimeSeconds */
  readonly WaitTimeSeconds?: number;
  /** Overrides the queue's VisibilityTimeout for the messages received. */
  readonly VisibilityTimeout?: number;
}

interface Poller {
  readonly max: number;
  readonly visibilitySeconds: number;
  readonly resolve: (messages: SqsMessage[]) => void;
  readonly timer: AbortController;
}

/** SQS's interval between two PurgeQueue calls on one queue. */
const PURGE_INTERVAL_MS = 60_000;

export class LocalQueue {
  private readonly messages: QueueMessages;
  private readonly pollers: Poller[] = [];
  private wakeTimer?: AbortController;
  private readonly deleteListeners: Array<(messageId: string) => void> = [];
  /** When the last PurgeQueue was taken, on the clock. */
  private purgedAtMs?: number;
  /** When the queue was made (the pipeline's start), on the clock: CreatedTimestamp. */
  readonly createdAtMs: number;

  constructor(
    readonly settings: QueueSettings,
    private readonly clock: Clock,
  ) {
    this.createdAtMs = clock.now();
    this.messages = new QueueMessages(settings);
  }

  get url(): string {
    return this.settings.url;
  }

  /** Messages not yet deleted (nor past the retention period), visible, in flight or delayed. */
  get size(): number {
    this.expire();
    return this.messages.size;
  }

  /** Messages sent and deleted so far (for reports and tests). */
  get sent(): number {
    return this.messages.sent;
  }

  get deleted(): number {
    return this.messages.deleted;
  }

  /** SendMessage, ReceiveMessage and DeleteMessage calls so far: what SQS bills. */
  requests = 0;

  sendMessage(body: string, options: SendOptions = {}): { MessageId: string; MD5OfMessageBody: string } {
    this.requests++;
    const sent = this.messages.send(body, this.nowSeconds(), {
      sentTimestampMs: this.clock.now(),
      ...options,
    });
    this.serve();
    return sent;
  }

  /** `{ Messages }` when any was visible within the wait, `{}` otherwise, as the SDK returns it. */
  async receiveMessage(request: ReceiveMessageRequest = {}): Promise<{ Messages?: SqsMessage[] }> {
    this.requests++;
    const max = request.MaxNumberOfMessages ?? 1;
    const visibilitySeconds = request.VisibilityTimeout ?? this.settings.visibilityTimeoutSeconds;
    this.expire();
    const now = this.messages.receive(this.nowSeconds(), max, visibilitySeconds);
    const waitSeconds = request.WaitTimeSeconds ?? this.settings.receiveWaitTimeSeconds;
    if (now.length > 0 || !waitSeconds) return now.length > 0 ? { Messages: now } : {};
    const messages = await new Promise<SqsMessage[]>((resolve) => {
      const poller: Poller = { max, visibilitySeconds, resolve, timer: new AbortController() };
      this.clock.sleep(waitSeconds * 1000, poller.timer.signal).then(
        () => {
          this.pollers.splice(this.pollers.indexOf(poller), 1);
          resolve([]);
        },
        () => undefined,
      );
      this.pollers.push(poller);
      this.serve(); // arms the wake-up for a message in flight turning visible
    });
    return messages.length > 0 ? { Messages: messages } : {};
  }

  /** Deletes the message last received with `receiptHandle` (see queue-messages.ts for older handles). */
  deleteMessage(receiptHandle: string): void {
    this.requests++;
    const deleted = this.messages.delete(receiptHandle);
    if (deleted !== undefined) for (const listener of this.deleteListeners) listener(deleted);
  }

  /** ChangeMessageVisibility (see QueueMessages.changeVisibility); wakes long polls for a message made visible. */
  changeMessageVisibility(receiptHandle: string, visibilityTimeoutSeconds: number): void {
    this.messages.changeVisibility(receiptHandle, this.nowSeconds(), visibilityTimeoutSeconds);
    this.serve();
  }

  /**
   * PurgeQueue: SQS takes one per queue every 60 seconds, and refuses the next ones within them
   * (PurgeQueueInProgress), as a client retrying a purge meets it.
   */
  purge(): void {
    const now = this.clock.now();
    if (this.purgedAtMs !== undefined && now - this.purgedAtMs < PURGE_INTERVAL_MS) {
      throw new SqsError(
        'PurgeQueueInProgress',
        `Only one PurgeQueue operation on ${this.url.slice(this.url.lastIndexOf('/') + 1)} is allowed every 60 seconds.`,
      );
    }
    this.purgedAtMs = now;
    for (const deleted of this.messages.purge())
      for (const listener of this.deleteListeners) listener(deleted);
  }

  /** Calls `listener` with the id of each message deleted from now on (DeleteMessage, PurgeQueue). */
  onDelete(listener: (messageId: string) => void): void {
    this.deleteListeners.push(listener);
  }

  /** ApproximateNumberOfMessages, ...NotVisible and ...Delayed, now. */
  counts(): { visible: number; inFlight: number; delayed: number } {
    this.expire();
    return this.messages.counts(this.nowSeconds());
  }

  /** A message's attributes, receive count and sent time (see QueueMessages.details). */
  details(messageId: string): ReturnType<QueueMessages['details']> {
    this.expire();
    return this.messages.details(messageId);
  }

  /** Drops the messages past the retention period, as deleted (their dead-letter files go too). */
  private expire(): void {
    for (const expired of this.messages.expire(this.nowSeconds()))
      for (const listener of this.deleteListeners) listener(expired);
  }

  /** Hands visible messages to waiting long polls, oldest poll first; wakes itself when one turns visible. */
  private serve(): void {
    this.expire();
    while (this.pollers.length > 0) {
      const poller = this.pollers[0];
      const messages = this.messages.receive(this.nowSeconds(), poller.max, poller.visibilitySeconds);
      if (messages.length === 0) break;
      this.pollers.shift();
      poller.timer.abort();
      poller.resolve(messages);
    }
    this.wakeTimer?.abort();
    this.wakeTimer = undefined;
    const next = this.messages.nextVisibleAt(this.nowSeconds());
    if (this.pollers.length > 0 && next !== undefined) {
      const timer = new AbortController();
      this.wakeTimer = timer;
      this.clock.sleep(Math.max(0, (next - this.nowSeconds()) * 1000), timer.signal).then(
        () => this.serve(),
        () => undefined,
      );
    }
  }

  private nowSeconds(): number {
    return this.clock.now() / 1000;
  }
}

/** The template's queues, by local URL. */
export class LocalSqs {
  private readonly queues = new Map<string, LocalQueue>();

  constructor(
    /** Each queue's settings; SQS's defaults for those not given. */
    queues: ReadonlyArray<Partial<QueueSettings> & { readonly url: string }>,
    clock: Clock,
  ) {
    for (const settings of queues) {
      this.queues.set(settings.url, new LocalQueue(withQueueDefaults(settings), clock));
    }
  }

  /** Every `AWS::SQS::Queue` of the template, with its settings. */
  static fromDeployment(deployment: LocalDeployment, clock: Clock): LocalSqs {
    return new LocalSqs(queueSettings(deployment), clock);
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

  /** The queue named `name` (the last segment of its URL), if any. */
  named(name: string): LocalQueue | undefined {
    return this.all().find((queue) => queue.url.endsWith(`/${name}`));
  }
}
