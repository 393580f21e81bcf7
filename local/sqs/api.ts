import { createHash } from 'node:crypto';

import { QueueAttributeName } from '@aws-sdk/client-sqs';

import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { MAX_DELAY_SECONDS, type MessageAttributes, SqsError } from './queue-messages';
import type { LocalQueue, LocalSqs } from './queues';

/**
 * The SQS API over the template's queues (queues.ts), as the local endpoint serves it to the SDK,
 * the AWS CLI and boto3 (the wire protocols are the endpoint's): ListQueues, GetQueueUrl,
 * GetQueueAttributes, SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
 * ChangeMessageVisibility, PurgeQueue. Queues are the template's only: CreateQueue and the other
 * actions answer UnknownOperationException naming what is served.
 *
 * A queue is found by its URL as the template's `Ref` gives it locally
 * (`https://sqs.us-east-1.amazonaws.com/000000000000/<name>`) or by any URL ending in
 * `/<account>/<name>` (the endpoint's own, as LocalStack hands them out).
 */

const SERVED = [
  'ListQueues',
  'GetQueueUrl',
  'GetQueueAttributes',
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'PurgeQueue',
] as const;

type Request = Record<string, unknown>;

export class SqsApi implements LocalAwsService {
  readonly signingName = 'sqs';

  constructor(
    private readonly sqs: LocalSqs,
    private readonly where: {
      readonly partition: string;
      readonly region: string;
      readonly accountId: string;
    },
  ) {}

  async call(action: string, request: Request): Promise<Record<string, unknown>> {
    try {
      return await this.serve(action, request);
    } catch (error) {
      if (error instanceof SqsError) throw new AwsServiceError(error.name, error.message);
      throw error;
    }
  }

  private async serve(action: string, request: Request): Promise<Record<string, unknown>> {
    switch (action as (typeof SERVED)[number]) {
      case 'ListQueues': {
        const prefix = optionalString(request, 'QueueNamePrefix') ?? '';
        const urls = this.sqs
          .all()
          .map((queue) => queue.url)
          .filter((url) => nameOf(url).startsWith(prefix));
        const max = request.MaxResults === undefined ? undefined : integer(request, 'MaxResults', 1, 1000);
        const start = Number(optionalString(request, 'NextToken') ?? 0) || 0;
        const page = max === undefined ? urls : urls.slice(start, start + max);
        const next = max !== undefined && start + max < urls.length ? String(start + max) : undefined;
        return { ...(page.length > 0 && { QueueUrls: page }), ...(next && { NextToken: next }) };
      }
      case 'GetQueueUrl': {
        const queue = this.sqs.named(requiredString(request, 'QueueName'));
        if (!queue) throw queueDoesNotExist();
        return { QueueUrl: queue.url };
      }
      case 'GetQueueAttributes':
        return { Attributes: this.attributes(this.queueOf(request), stringList(request.AttributeNames)) };
      case 'SendMessage':
        return this.send(this.queueOf(request), request);
      case 'SendMessageBatch': {
        const queue = this.queueOf(request);
        return batch(request, (entry) => ({ Id: entry.Id, ...this.send(queue, entry) }));
      }
      case 'ReceiveMessage':
        return this.receive(this.queueOf(request), request);
      case 'DeleteMessage':
        this.queueOf(request).deleteMessage(requiredString(request, 'ReceiptHandle'));
        return {};
      case 'DeleteMessageBatch': {
        const queue = this.queueOf(request);
        return batch(request, (entry) => {
          queue.deleteMessage(requiredString(entry, 'ReceiptHandle'));
          return { Id: entry.Id };
        });
      }
      case 'ChangeMessageVisibility':
        this.queueOf(request).changeMessageVisibility(
          requiredString(request, 'ReceiptHandle'),
          integer(request, 'VisibilityTimeout', 0, 43200),
        );
        return {};
      case 'PurgeQueue':
        this.queueOf(request).purge();
        return {};
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `The local SQS does not serve ${action}; it serves ${SERVED.join(', ')} on the template's queues`,
        );
    }
  }

  private queueOf(request: Request): LocalQueue {
    const url = requiredString(request, 'QueueUrl');
    const exact = this.sqs.all().find((queue) => queue.url === url);
    const path = /^https?:\/\/[^/]+\/(\d{12})\/([^/?]+)$/.exec(url);
    const queue = exact ?? (path?.[1] === this.where.accountId ? this.sqs.named(path[2]) : undefined);
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  private attributes(queue: LocalQueue, names: readonly string[]): Record<string, string> {
    const { visible, inFlight, delayed } = queue.counts();
    const { settings } = queue;
    const created = String(Math.floor(queue.createdAtMs / 1000));
    const all: Record<string, string> = {
      QueueArn: `arn:${this.where.partition}:sqs:${this.where.region}:${this.where.accountId}:${nameOf(queue.url)}`,
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: String(delayed),
      CreatedTimestamp: created,
      // The template is the queue's only writer (no SetQueueAttributes): unchanged since it was made.
      LastModifiedTimestamp: created,
      VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
      ReceiveMessageWaitTimeSeconds: String(settings.receiveWaitTimeSeconds),
      DelaySeconds: String(settings.delaySeconds),
      MaximumMessageSize: String(settings.maximumMessageSize),
      MessageRetentionPeriod: String(settings.retentionSeconds),
      ...settings.reported,
    };
    if (names.includes('All')) return all;
    const known: readonly string[] = Object.values(QueueAttributeName);
    for (const name of names) {
      if (!known.includes(name))
        throw new AwsServiceError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    // A name SQS knows that this queue has no value for (a FIFO setting, a policy it lacks) is left out.
    return Object.fromEntries(names.filter((name) => name in all).map((name) => [name, all[name]]));
  }

  private send(queue: LocalQueue, request: Request): Record<string, unknown> {
    const body = requiredString(request, 'MessageBody');
    if (body === '') {
      throw new AwsServiceError('InvalidParameterValue', 'The request must contain a non-empty MessageBody.');
    }
    const attributes = request.MessageAttributes as MessageAttributes | undefined;
    const delaySeconds =
      request.DelaySeconds === undefined ? undefined : integer(request, 'DelaySeconds', 0, MAX_DELAY_SECONDS);
    const sent = queue.sendMessage(body, { messageAttributes: attributes, delaySeconds });
    const attributesMd5 =
      attributes && Object.keys(attributes).length > 0 ? md5OfAttributes(attributes) : undefined;
    return { ...sent, ...(attributesMd5 && { MD5OfMessageAttributes: attributesMd5 }) };
  }

  private async receive(queue: LocalQueue, request: Request): Promise<Record<string, unknown>> {
    const received = await queue.receiveMessage({
      MaxNumberOfMessages:
        request.MaxNumberOfMessages === undefined
          ? undefined
          : integer(request, 'MaxNumberOfMessages', 1, 10),
      WaitTimeSeconds:
        request.WaitTimeSeconds === undefined ? undefined : integer(request, 'WaitTimeSeconds', 0, 20),
      VisibilityTimeout:
        request.VisibilityTimeout === undefined ? undefined : integer(request, 'VisibilityTimeout', 0, 43200),
    });
    if (!received.Messages) return {};
    const system = [
      ...stringList(request.AttributeNames),
      ...stringList(request.MessageSystemAttributeNames),
    ];
    const wanted = stringList(request.MessageAttributeNames);
    return {
      Messages: received.Messages.map((message) => {
        const details = queue.details(message.MessageId);
        const systemAttributes = Object.fromEntries(
          Object.entries({
            SentTimestamp:
              details?.sentTimestampMs === undefined ? undefined : String(details.sentTimestampMs),
            ApproximateReceiveCount: String(details?.receives ?? 1),
            ApproximateFirstReceiveTimestamp:
              details?.firstReceiveMs === undefined ? undefined : String(details.firstReceiveMs),
          }).filter(
            ([name, value]) => value !== undefined && (system.includes('All') || system.includes(name)),
          ),
        );
        const messageAttributes = Object.fromEntries(
          Object.entries(details?.messageAttributes ?? {}).filter(([name]) => attributeWanted(name, wanted)),
        );
        const hasAttributes = Object.keys(messageAttributes).length > 0;
        return {
          ...message,
          ...(Object.keys(systemAttributes).length > 0 && { Attributes: systemAttributes }),
          ...(hasAttributes && {
            MessageAttributes: messageAttributes,
            MD5OfMessageAttributes: md5OfAttributes(messageAttributes),
          }),
        };
      }),
    };
  }
}

/** `All`, `.*`, a name, or `prefix.*`, as ReceiveMessage's MessageAttributeNames take them. */
function attributeWanted(name: string, wanted: readonly string[]): boolean {
  return wanted.some(
    (pattern) =>
      pattern === 'All' ||
      pattern === '.*' ||
      pattern === name ||
      (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
  );
}

/**
 * MD5OfMessageAttributes as SQS computes it (and clients may check): per attribute, sorted by
 * name, the length-prefixed name, data type, a transport byte (1 string, 2 binary) and the
 * length-prefixed value. From the SQS Developer Guide, "Calculating the MD5 message digest for
 * message attributes"; no library computes it server-side.
 */
export function md5OfAttributes(attributes: MessageAttributes): string {
  const hash = createHash('md5');
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const { DataType, StringValue, BinaryValue } = attributes[name];
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(DataType, 'utf8'));
    if (BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      lengthPrefixed(Buffer.from(BinaryValue));
    } else {
      hash.update(Buffer.from([1]));
      lengthPrefixed(Buffer.from(StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

/** A batch action: each entry done on its own, its failure reported in Failed, as SQS answers. */
function batch(request: Request, each: (entry: Request) => Record<string, unknown>): Record<string, unknown> {
  const entries = Array.isArray(request.Entries) ? (request.Entries as Request[]) : [];
  if (entries.length === 0) {
    throw new AwsServiceError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  }
  if (entries.length > 10) {
    throw new AwsServiceError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
    );
  }
  const ids = entries.map((entry) => entry.Id);
  if (new Set(ids).size !== ids.length) {
    throw new AwsServiceError(
      'BatchEntryIdsNotDistinct',
      'Two or more batch entries in the request have the same Id.',
    );
  }
  const Successful: unknown[] = [];
  const Failed: unknown[] = [];
  for (const entry of entries) {
    try {
      Successful.push(each(entry));
    } catch (error) {
      if (!(error instanceof SqsError || error instanceof AwsServiceError)) throw error;
      const code = error instanceof SqsError ? error.name : error.code;
      Failed.push({ Id: entry.Id, SenderFault: true, Code: code, Message: error.message });
    }
  }
  return { Successful, Failed };
}

function queueDoesNotExist(): AwsServiceError {
  return new AwsServiceError('QueueDoesNotExist', 'The specified queue does not exist.');
}

function nameOf(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

function requiredString(request: Request, name: string): string {
  const value = request[name];
  if (typeof value !== 'string') {
    throw new AwsServiceError('MissingParameter', `The request must contain the parameter ${name}.`);
  }
  return value;
}

function optionalString(request: Request, name: string): string | undefined {
  return typeof request[name] === 'string' ? request[name] : undefined;
}

function integer(request: Request, name: string, min: number, max: number): number {
  const value = request[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AwsServiceError(
      'InvalidParameterValue',
      `Value ${JSON.stringify(value)} for parameter ${name} is invalid. Reason: must be an integer from ${min} to ${max}.`,
    );
  }
  return value;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
