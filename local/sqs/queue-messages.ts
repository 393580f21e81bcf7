import { createHash, randomUUID } from 'node:crypto';

import type { LocalDeployment } from '../cloudformation/template';

/**
 * One SQS standard queue's messages, as SQS keeps them, with time passed in (seconds); queues.ts
 * serves them on the pipeline's clock (real for `npm start`, virtual for the planner), and owns long
 * polling.
 *
 * - Messages come out oldest first, the best effort a standard queue makes.
 * - A message sent with a delay (its own DelaySeconds, or the queue's) is received only after it.
 * - A message older than the queue's MessageRetentionPeriod is gone, received or not, as SQS deletes
 *   it: a dead letter left past 14 days is lost on AWS, so it is here.
 * - A message whose body and attributes together pass the queue's MaximumMessageSize is refused.
 * - A received message is invisible for the visibility timeout, then received again under a new
 *   receipt handle, unless deleted by then.
 * - DeleteMessage takes a handle this queue gave out. The latest handle deletes the message; an
 *   earlier handle of a message received again since succeeds without deleting it, and so does one
 *   of a message already deleted, as SQS answers. A handle it never gave out is
 *   `ReceiptHandleIsInvalid`.
 *
 * Hand-written, because no maintained SQS emulator runs in Node (ElasticMQ and LocalStack need a
 * JVM or Docker).
 */

/** An SQS error as the SDK names it (`QueueDoesNotExist`, `ReceiptHandleIsInvalid`). */
export class SqsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export interface ReceivedMessage {
  readonly MessageId: string;
  readonly ReceiptHandle: string;
  readonly MD5OfBody: string;
  readonly Body: string;
}

/** SQS's defaults, for a queue whose template sets none (AWS::SQS::Queue's documented defaults). */
const DEFAULTS = {
  visibilityTimeoutSeconds: 30,
  receiveWaitTimeSeconds: 0,
  retentionSeconds: 345_600,
  delaySeconds: 0,
  maximumMessageSize: 1_048_576,
  // Queues made since October 2022 have SSE-SQS on unless a KMS key is set.
  reported: { SqsManagedSseEnabled: 'true' },
} satisfies Omit<QueueSettings, 'url'>;
/** The longest delay SendMessage takes. */
export const MAX_DELAY_SECONDS = 900;

export interface QueueSettings {
  /** Where the queue is: its `Ref`, locally. */
  readonly url: string;
  readonly visibilityTimeoutSeconds: number;
  /** The long poll of a ReceiveMessage that sets no WaitTimeSeconds. */
  readonly receiveWaitTimeSeconds: number;
  /** How long a message is kept, received or not (MessageRetentionPeriod). */
  readonly retentionSeconds: number;
  /** The delay of a message sent without its own DelaySeconds. */
  readonly delaySeconds: number;
  /** The most bytes a message's body and attributes may hold together. */
  readonly maximumMessageSize: number;
  /**
   * What GetQueueAttributes reports besides the above and the counts, as the template sets it
   * (SqsManagedSseEnabled or the KMS key, the queue policy, the redrive policy).
   */
  readonly reported: Readonly<Record<string, string>>;
}

/** Every `AWS::SQS::Queue` of the template, at its local URL, with its settings. */
export function queueSettings(deployment: LocalDeployment): QueueSettings[] {
  const policies = queuePolicies(deployment);
  return deployment.resourcesOfType('AWS::SQS::Queue').map(([logicalId, resource]) => {
    const properties = (deployment.resolve(resource.Properties ?? {}) ?? {}) as Record<string, unknown>;
    const url = deployment.ref(logicalId);
    const kmsKey = properties.KmsMasterKeyId;
    const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
    const reported = definedOnly({
      SqsManagedSseEnabled:
        kmsKey === undefined ? String(properties.SqsManagedSseEnabled ?? true) : undefined,
      KmsMasterKeyId: kmsKey === undefined ? undefined : text(kmsKey),
      KmsDataKeyReusePeriodSeconds:
        kmsKey === undefined ? undefined : String(properties.KmsDataKeyReusePeriodSeconds ?? 300),
      Policy: policies.get(url),
      RedrivePolicy: properties.RedrivePolicy === undefined ? undefined : text(properties.RedrivePolicy),
      RedriveAllowPolicy:
        properties.RedriveAllowPolicy === undefined ? undefined : text(properties.RedriveAllowPolicy),
    });
    const number = (value: unknown) => (value === undefined ? undefined : Number(value));
    return withQueueDefaults({
      url,
      ...definedOnly({
        visibilityTimeoutSeconds: number(properties.VisibilityTimeout),
        receiveWaitTimeSeconds: number(properties.ReceiveMessageWaitTimeSeconds),
        retentionSeconds: number(properties.MessageRetentionPeriod),
        delaySeconds: number(properties.DelaySeconds),
        maximumMessageSize: number(properties.MaximumMessageSize),
      }),
      reported,
    });
  });
}

/** `record` without its undefined members, so they leave SQS's defaults in place. */
function definedOnly<T>(record: Record<string, T | undefined>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).filter((entry): entry is [string, T] => entry[1] !== undefined),
  );
}

/** Each queue's policy document as GetQueueAttributes returns it (JSON), by queue URL. */
function queuePolicies(deployment: LocalDeployment): Map<string, string> {
  const policies = new Map<string, string>();
  for (const [, resource] of deployment.resourcesOfType('AWS::SQS::QueuePolicy')) {
    const { PolicyDocument, Queues } = (deployment.resolve(resource.Properties ?? {}) ?? {}) as {
      PolicyDocument?: unknown;
      Queues?: unknown;
    };
    if (!Array.isArray(Queues)) continue;
    for (const url of Queues) if (typeof url === 'string') policies.set(url, JSON.stringify(PolicyDocument));
  }
  return policies;
}

/** A queue's settings: the template's where given, SQS's defaults for the rest. */
export function withQueueDefaults(
  settings: Partial<QueueSettings> & { readonly url: string },
): QueueSettings {
  return { ...DEFAULTS, ...settings };
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5: string;
  /** Seconds from which it can be received. */
  visibleAt: number;
  /** Seconds from which it is gone: its sent time plus the queue's retention period. */
  readonly expiresAt: number;
  receives: number;
  /** The sender's message attributes and SentTimestamp (epoch ms), as ReceiveMessage returns them. */
  readonly messageAttributes?: MessageAttributes;
  readonly sentTimestampMs?: number;
  /** When it was first received (epoch ms), as ApproximateFirstReceiveTimestamp reports it. */
  firstReceiveMs?: number;
}

/** A message's attributes as SendMessage takes them (`{ name: { DataType, StringValue } }`). */
export type MessageAttributes = Readonly<
  Record<
    string,
    { readonly DataType: string; readonly StringValue?: string; readonly BinaryValue?: Uint8Array }
  >
>;

/** What SendMessage may set besides the body; `messageId` restores a message kept across runs. */
export interface SendOptions {
  readonly messageAttributes?: MessageAttributes;
  readonly sentTimestampMs?: number;
  readonly messageId?: string;
  /** 0 to 900. @default the queue's DelaySeconds */
  readonly delaySeconds?: number;
}

type MessageLimits = Pick<
  QueueSettings,
  'visibilityTimeoutSeconds' | 'retentionSeconds' | 'delaySeconds' | 'maximumMessageSize'
>;

export class QueueMessages {
  /** In the order sent: a Map keeps insertion order and deletes in O(1). */
  private readonly messages = new Map<string, StoredMessage>();
  /** Every message id sent, deleted or not: what tells an old receipt handle from a made-up one. */
  private readonly sentIds = new Set<string>();
  /** Messages sent and deleted so far (for reports and tests). */
  sent = 0;
  deleted = 0;

  /** The earliest time a message kept expires: nothing is looked at before it. */
  private nextExpiry = Infinity;

  constructor(private readonly limits: MessageLimits) {}

  /** Messages not yet deleted, visible or in flight. */
  get size(): number {
    return this.messages.size;
  }

  send(
    body: string,
    nowSeconds: number,
    options: SendOptions = {},
  ): { MessageId: string; MD5OfMessageBody: string } {
    const size = messageSize(body, options.messageAttributes);
    if (size > this.limits.maximumMessageSize) {
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${this.limits.maximumMessageSize} bytes.`,
      );
    }
    const delay = options.delaySeconds ?? this.limits.delaySeconds;
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      throw new SqsError(
        'InvalidParameterValue',
        `Value ${delay} for parameter DelaySeconds is invalid. Reason: must be between 0 and ${MAX_DELAY_SECONDS}, if provided.`,
      );
    }
    const sentSeconds = options.sentTimestampMs === undefined ? nowSeconds : options.sentTimestampMs / 1000;
    const message: StoredMessage = {
      messageId: options.messageId ?? randomUUID(),
      body,
      md5: createHash('md5').update(body, 'utf8').digest('hex'),
      visibleAt: nowSeconds + delay,
      expiresAt: sentSeconds + this.limits.retentionSeconds,
      receives: 0,
      messageAttributes: options.messageAttributes,
      sentTimestampMs: options.sentTimestampMs,
    };
    this.messages.set(message.messageId, message);
    this.nextExpiry = Math.min(this.nextExpiry, message.expiresAt);
    this.sentIds.add(message.messageId);
    this.sent++;
    return { MessageId: message.messageId, MD5OfMessageBody: message.md5 };
  }

  /** Up to `max` visible messages, oldest first, each now invisible for `visibilitySeconds`. */
  receive(
    nowSeconds: number,
    max: number,
    visibilitySeconds = this.limits.visibilityTimeoutSeconds,
  ): ReceivedMessage[] {
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw new SqsError(
        'InvalidParameterValue',
        `MaxNumberOfMessages ${max} is not an integer from 1 to 10`,
      );
    }
    const taken: ReceivedMessage[] = [];
    for (const message of this.messages.values()) {
      if (taken.length >= max) break;
      if (message.visibleAt > nowSeconds) continue;
      message.visibleAt = nowSeconds + visibilitySeconds;
      message.receives++;
      message.firstReceiveMs ??= Math.round(nowSeconds * 1000);
      taken.push({
        MessageId: message.messageId,
        ReceiptHandle: `${message.messageId}#${message.receives}`,
        MD5OfBody: message.md5,
        Body: message.body,
      });
    }
    return taken;
  }

  /** Returns the id of the message deleted; undefined when the handle was an older one (a no-op). */
  delete(receiptHandle: string): string | undefined {
    const [messageId, receives] = this.parseHandle(receiptHandle);
    const message = this.messages.get(messageId);
    if (message?.receives !== receives) return undefined;
    this.messages.delete(messageId);
    this.deleted++;
    return messageId;
  }

  /**
   * ChangeMessageVisibility: the message received last with this handle turns visible `seconds`
   * from now; one not in flight (visible, deleted, or received again since) is MessageNotInflight.
   */
  changeVisibility(receiptHandle: string, nowSeconds: number, seconds: number): void {
    const [messageId, receives] = this.parseHandle(receiptHandle);
    const message = this.messages.get(messageId);
    if (!message || message.receives !== receives || message.visibleAt <= nowSeconds) {
      throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.');
    }
    message.visibleAt = nowSeconds + seconds;
  }

  /** PurgeQueue: deletes every message; returns their ids. */
  purge(): string[] {
    const ids = [...this.messages.keys()];
    this.deleted += ids.length;
    this.messages.clear();
    return ids;
  }

  /**
   * Deletes the messages past the retention period at `nowSeconds`, as SQS does whether or not they
   * were received; returns their ids.
   */
  expire(nowSeconds: number): string[] {
    if (nowSeconds < this.nextExpiry) return [];
    const expired: string[] = [];
    this.nextExpiry = Infinity;
    for (const message of this.messages.values()) {
      if (message.expiresAt <= nowSeconds) expired.push(message.messageId);
      else this.nextExpiry = Math.min(this.nextExpiry, message.expiresAt);
    }
    for (const id of expired) this.messages.delete(id);
    return expired;
  }

  /**
   * Messages receivable now, in flight, and not yet delivered for their delay
   * (ApproximateNumberOfMessages, ...NotVisible, ...Delayed).
   */
  counts(nowSeconds: number): { visible: number; inFlight: number; delayed: number } {
    let visible = 0;
    let delayed = 0;
    for (const message of this.messages.values()) {
      if (message.visibleAt <= nowSeconds) visible++;
      else if (message.receives === 0) delayed++;
    }
    return { visible, inFlight: this.messages.size - visible - delayed, delayed };
  }

  /** What ReceiveMessage reports of a message beside its body: attributes, receive count, sent time. */
  details(messageId: string):
    | {
        messageAttributes?: MessageAttributes;
        receives: number;
        sentTimestampMs?: number;
        firstReceiveMs?: number;
      }
    | undefined {
    const message = this.messages.get(messageId);
    return (
      message && {
        messageAttributes: message.messageAttributes,
        receives: message.receives,
        sentTimestampMs: message.sentTimestampMs,
        firstReceiveMs: message.firstReceiveMs,
      }
    );
  }

  private parseHandle(receiptHandle: string): [string, number] {
    const [messageId, receives] = receiptHandle.split('#');
    if (!messageId || !/^\d+$/.test(receives ?? '') || !this.sentIds.has(messageId)) {
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`,
      );
    }
    return [messageId, Number(receives)];
  }

  /** When the next message in flight turns visible; undefined when none is in flight. */
  nextVisibleAt(nowSeconds: number): number | undefined {
    let next: number | undefined;
    for (const { visibleAt } of this.messages.values()) {
      if (visibleAt > nowSeconds && (next === undefined || visibleAt < next)) next = visibleAt;
    }
    return next;
  }
}

/**
 * What counts against MaximumMessageSize: the body and each attribute's name, type and value, in
 * bytes (the SQS developer guide, "Amazon SQS message attributes").
 */
function messageSize(body: string, attributes: MessageAttributes = {}): number {
  let size = Buffer.byteLength(body, 'utf8');
  for (const [name, { DataType, StringValue, BinaryValue }] of Object.entries(attributes)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(DataType, 'utf8');
    size += BinaryValue === undefined ? Buffer.byteLength(StringValue ?? '', 'utf8') : BinaryValue.length;
  }
  return size;
}
