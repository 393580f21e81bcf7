import type { LocalDeployment } from '../cloudformation/template';
import {
  DEFAULT_RECEIVE_WAIT_SECONDS,
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  integrationErrorName,
  QueueMessages,
  queueSettings,
  SqsError,
} from '../sqs/queue-messages';
import type { Json } from './asl';
import type { EventQueue } from './event-queue';
import { ServiceError } from './service-error';

/**
 * Amazon SQS standard queues as the gate uses them, by QueueUrl, in virtual time: the messages are
 * kept by the same model as the local SQS (local/sqs/queue-messages.ts: oldest first, visibility
 * timeouts, receipt handles); this adds long polling on the simulation's clock (a poll answers at
 * once when a message is visible, else when one is sent or turns visible, else `{}` after its
 * WaitTimeSeconds) and counts the requests SQS bills. A queue the template does not declare gets
 * SQS's defaults. Errors are named as the AWS SDK integration names them (`Sqs.<error>Exception`).
 */

export interface QueueSettings {
  readonly visibilityTimeoutSeconds: number;
  /** The long poll when ReceiveMessage sets no WaitTimeSeconds. */
  readonly receiveWaitTimeSeconds: number;
}

interface Poll {
  readonly max: number;
  readonly visibilitySeconds: number;
  readonly respond: (result: Json) => void;
  answered: boolean;
}

interface Queue {
  readonly settings: QueueSettings;
  readonly messages: QueueMessages;
  readonly polls: Poll[];
}

/** Each queue of the template by its URL (its `Ref`), with the settings that shape receiving. */
export function loadQueueSettings(deployment: LocalDeployment): Record<string, QueueSettings> {
  return Object.fromEntries(
    queueSettings(deployment).map(({ url, visibilityTimeoutSeconds, receiveWaitTimeSeconds }) => [
      url,
      { visibilityTimeoutSeconds, receiveWaitTimeSeconds },
    ]),
  );
}

export class SqsQueues {
  private readonly queues = new Map<string, Queue>();
  /** Requests made (SendMessage, ReceiveMessage whether empty or not, DeleteMessage): what SQS bills. */
  requests = 0;

  constructor(
    private readonly clock: Pick<EventQueue<() => void>, 'now' | 'schedule'>,
    private readonly settings: Readonly<Record<string, QueueSettings>> = {},
  ) {}

  sendMessage(queueUrl: string, body: string): Json {
    this.requests++;
    const queue = this.queue(queueUrl);
    const { MessageId } = queue.messages.send(body, this.clock.now);
    this.deliver(queue);
    return { MessageId };
  }

  /** Answers through `respond`, now or when a message arrives or the long poll ends. */
  receiveMessage(parameters: Record<string, Json>, respond: (result: Json) => void): void {
    this.requests++;
    const queue = this.queue(String(parameters.QueueUrl));
    const poll: Poll = {
      max: Number(parameters.MaxNumberOfMessages ?? 1),
      visibilitySeconds: Number(parameters.VisibilityTimeout ?? queue.settings.visibilityTimeoutSeconds),
      respond,
      answered: false,
    };
    const waitSeconds = Number(parameters.WaitTimeSeconds ?? queue.settings.receiveWaitTimeSeconds);
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

  deleteMessage(queueUrl: string, receiptHandle: string): Json {
    this.requests++;
    sqsCall(() => this.queue(queueUrl).messages.delete(receiptHandle));
    return {};
  }

  /** Messages still in the queues, visible or not. */
  messagesLeft(): number {
    return [...this.queues.values()].reduce((sum, queue) => sum + queue.messages.size, 0);
  }

  private queue(url: string): Queue {
    let queue = this.queues.get(url);
    if (!queue) {
      const settings = this.settings[url] ?? {
        visibilityTimeoutSeconds: DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
        receiveWaitTimeSeconds: DEFAULT_RECEIVE_WAIT_SECONDS,
      };
      queue = { settings, messages: new QueueMessages(settings.visibilityTimeoutSeconds), polls: [] };
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
    const messages = sqsCall(() => queue.messages.receive(this.clock.now, poll.max, poll.visibilitySeconds));
    if (messages.length === 0) return false;
    // Visible again unless deleted by then: a poll waiting at that moment gets it.
    this.clock.schedule(this.clock.now + poll.visibilitySeconds, () => this.deliver(queue));
    poll.answered = true;
    poll.respond({ Messages: messages as unknown as Json[] });
    return true;
  }
}

/** An SQS call, its error renamed as the AWS SDK integration reports it. */
function sqsCall<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (!(error instanceof SqsError)) throw error;
    throw new ServiceError(integrationErrorName(error, 'Sqs'), error.message);
  }
}
