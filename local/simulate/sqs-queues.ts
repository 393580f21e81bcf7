import type { LocalDeployment } from '../cloudformation/template';
import type { Json } from './asl';
import type { EventQueue } from './event-queue';
import { ServiceError } from './service-error';

/**
 * Amazon SQS standard queues as the gate uses them, by QueueUrl, in virtual time: SendMessage,
 * ReceiveMessage with long polling (it answers at once when a message is visible, else waits up to
 * WaitTimeSeconds for one and answers `{}`), the visibility timeout that hides a received message
 * until it is deleted or the timeout passes, and DeleteMessage. Messages come out oldest first, the
 * best effort a standard queue makes; a queue the template does not declare gets SQS's defaults.
 */

export interface QueueSettings {
  /** @default 30 (SQS's default) */
  readonly visibilityTimeoutSeconds?: number;
  /** The long poll when ReceiveMessage sets no WaitTimeSeconds. @default 0 */
  readonly receiveWaitTimeSeconds?: number;
}

interface Message {
  readonly id: string;
  readonly body: string;
  receives: number;
  invisibleUntil: number;
}

interface Poll {
  readonly max: number;
  readonly visibilitySeconds: number;
  readonly respond: (result: Json) => void;
  answered: boolean;
}

interface Queue {
  readonly settings: QueueSettings;
  /** In the order sent: a Map keeps insertion order and deletes in O(1). */
  readonly messages: Map<string, Message>;
  readonly polls: Poll[];
}

/** Each queue of the template by its URL (its `Ref`), with the settings that shape receiving. */
export function loadQueueSettings(deployment: LocalDeployment): Record<string, QueueSettings> {
  return Object.fromEntries(
    deployment.resourcesOfType('AWS::SQS::Queue').map(([logicalId, resource]) => {
      const properties = (deployment.resolve(resource.Properties ?? {}) ?? {}) as Record<string, unknown>;
      const seconds = (value: unknown) => (value === undefined ? undefined : Number(value));
      return [
        deployment.ref(logicalId),
        {
          visibilityTimeoutSeconds: seconds(properties.VisibilityTimeout),
          receiveWaitTimeSeconds: seconds(properties.ReceiveMessageWaitTimeSeconds),
        },
      ];
    }),
  );
}

export class SqsQueues {
  private readonly queues = new Map<string, Queue>();
  private sent = 0;
  /** Requests made (SendMessage, ReceiveMessage whether empty or not, DeleteMessage): what SQS bills. */
  requests = 0;

  constructor(
    private readonly clock: Pick<EventQueue<() => void>, 'now' | 'schedule'>,
    private readonly settings: Readonly<Record<string, QueueSettings>> = {},
  ) {}

  sendMessage(queueUrl: string, body: string): Json {
    this.requests++;
    const queue = this.queue(queueUrl);
    const id = `message-${++this.sent}`;
    queue.messages.set(id, { id, body, receives: 0, invisibleUntil: this.clock.now });
    this.deliver(queue);
    return { MessageId: id };
  }

  /** Answers through `respond`, now or when a message arrives or the long poll ends. */
  receiveMessage(parameters: Record<string, Json>, respond: (result: Json) => void): void {
    this.requests++;
    const queue = this.queue(String(parameters.QueueUrl));
    const poll: Poll = {
      max: Number(parameters.MaxNumberOfMessages ?? 1),
      visibilitySeconds: Number(
        parameters.VisibilityTimeout ?? queue.settings.visibilityTimeoutSeconds ?? 30,
      ),
      respond,
      answered: false,
    };
    const waitSeconds = Number(parameters.WaitTimeSeconds ?? queue.settings.receiveWaitTimeSeconds ?? 0);
    if (this.take(queue, poll) || waitSeconds === 0) {
      if (!poll.answered) respond({});
      return;
    }
    queue.polls.push(poll);
    this.clock.schedule(this.clock.now + waitSeconds, () => {
      if (poll.answered) return;
      poll.answered = true;
      queue.polls.splice(queue.polls.indexOf(poll), 1);
      respond({});
    });
  }

  /**
   * Deletes the message the receipt handle names. As SQS does, a handle from an earlier receive of a
   * message received again since succeeds without deleting it, and an already-deleted message's handle
   * succeeds too.
   */
  deleteMessage(queueUrl: string, receiptHandle: string): Json {
    this.requests++;
    const queue = this.queue(queueUrl);
    const [id, receives] = receiptHandle.split('#');
    if (!id || !receives) {
      throw new ServiceError(
        'Sqs.ReceiptHandleIsInvalidException',
        `The receipt handle "${receiptHandle}" is not valid.`,
      );
    }
    if (queue.messages.get(id)?.receives === Number(receives)) queue.messages.delete(id);
    return {};
  }

  /** Messages still in the queues, visible or not. */
  messagesLeft(): number {
    return [...this.queues.values()].reduce((sum, queue) => sum + queue.messages.size, 0);
  }

  private queue(url: string): Queue {
    let queue = this.queues.get(url);
    if (!queue) {
      queue = { settings: this.settings[url] ?? {}, messages: new Map(), polls: [] };
      this.queues.set(url, queue);
    }
    return queue;
  }

  /** Answers the waiting polls, oldest first, while visible messages last. */
  private deliver(queue: Queue): void {
    while (queue.polls.length > 0 && this.take(queue, queue.polls[0])) queue.polls.shift();
  }

  /** Receives up to `poll.max` visible messages into `poll`; false if there was none. */
  private take(queue: Queue, poll: Poll): boolean {
    const now = this.clock.now;
    const messages: Json[] = [];
    for (const message of queue.messages.values()) {
      if (messages.length >= poll.max) break;
      if (message.invisibleUntil > now) continue;
      message.receives++;
      message.invisibleUntil = now + poll.visibilitySeconds;
      // Visible again unless deleted by then: a poll waiting at that moment gets it.
      this.clock.schedule(message.invisibleUntil, () => this.deliver(queue));
      messages.push({
        MessageId: message.id,
        ReceiptHandle: `${message.id}#${message.receives}`,
        Body: message.body,
      });
    }
    if (messages.length === 0) return false;
    poll.answered = true;
    poll.respond({ Messages: messages });
    return true;
  }
}
