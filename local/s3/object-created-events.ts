import { randomUUID } from 'node:crypto';

import { partitionOf } from '../cloudformation/intrinsics';

/**
 * Turns s3rver's notification records into the EventBridge "Object Created" events S3 sends to the
 * default bus, field for field as in
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
 */

/** The part of an s3rver `event` record this module reads (s3rver 3.7 models/event.js). */
export interface S3rverNotification {
  readonly Records: ReadonlyArray<{
    readonly eventName: string;
    readonly eventTime?: string;
    readonly requestParameters?: { readonly sourceIPAddress?: string };
    readonly responseElements?: { readonly 'x-amz-request-id'?: string };
    readonly s3: {
      readonly bucket: { readonly name: string };
      readonly object: {
        readonly key: string;
        readonly size?: number;
        readonly eTag?: string;
        readonly sequencer?: string;
      };
    };
  }>;
}

export interface ObjectCreatedEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Object Created';
  readonly source: 'aws.s3';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly version: '0';
    readonly bucket: { readonly name: string };
    readonly object: {
      readonly key: string;
      readonly size: number;
      readonly etag?: string;
      readonly 'version-id'?: string;
      readonly sequencer: string;
    };
    readonly 'request-id': string;
    readonly requester: string;
    readonly 'source-ip-address': string;
    readonly reason: ObjectCreatedReason;
  };
}

export type ObjectCreatedReason = 'PutObject' | 'POST Object' | 'CopyObject' | 'CompleteMultipartUpload';

/**
 * s3rver's event names to EventBridge's `detail.reason`. s3rver emits `ObjectCreated:Post` both for
 * browser-form POST uploads and for CompleteMultipartUpload and gives no way to tell them apart; the
 * SDKs and the AWS CLI upload large files with multipart, so that is the reason reported.
 */
const REASONS: Readonly<Record<string, ObjectCreatedReason>> = {
  'ObjectCreated:Put': 'PutObject',
  'ObjectCreated:Post': 'CompleteMultipartUpload',
  'ObjectCreated:Copy': 'CopyObject',
};

/** What s3rver leaves out of some records: it sends no ETag for CopyObject. */
export interface ObjectFacts {
  readonly size?: number;
  readonly etag?: string;
}

export interface EventContext {
  readonly account: string;
  readonly region: string;
  /** The requester's account: locally the same account. */
  readonly requester?: string;
  /** Reads what the record lacks (e.g. with HeadObject); called only when size or ETag is missing. */
  readonly lookUp?: (bucket: string, key: string) => Promise<ObjectFacts | undefined>;
}

/**
 * The EventBridge events for an s3rver notification: one per "ObjectCreated:*" record, none for
 * deletions. The key is passed on exactly as s3rver reports it, which is the raw key (verified:
 * `a b+c%2B.txt` arrives as such), because EventBridge does not URL-encode keys either.
 * s3rver has no versioning, so `version-id` is left out, as S3 does for an unversioned bucket.
 */
export async function objectCreatedEvents(
  notification: S3rverNotification,
  context: EventContext,
): Promise<ObjectCreatedEvent[]> {
  const events: ObjectCreatedEvent[] = [];
  for (const record of notification.Records) {
    const reason = REASONS[record.eventName];
    if (!reason) continue;
    const bucket = record.s3.bucket.name;
    const { key } = record.s3.object;
    let { size, eTag: etag } = record.s3.object;
    if ((size === undefined || etag === undefined) && context.lookUp) {
      const facts = await context.lookUp(bucket, key);
      size ??= facts?.size;
      etag ??= facts?.etag;
    }
    events.push(
      objectCreatedEvent({
        bucket,
        key,
        size: size ?? 0,
        etag,
        sequencer: record.s3.object.sequencer,
        reason,
        time: record.eventTime,
        requestId: record.responseElements?.['x-amz-request-id'],
        // Koa reports IPv4 clients of a dual-stack socket as IPv4-mapped IPv6 ("::ffff:127.0.0.1").
        sourceIp: record.requestParameters?.sourceIPAddress?.replace(/^::ffff:/, ''),
        ...context,
      }),
    );
  }
  return events;
}

export interface ObjectCreatedFields {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
  readonly sequencer?: string;
  readonly reason: ObjectCreatedReason;
  readonly account: string;
  readonly region: string;
  readonly requester?: string;
  readonly time?: string;
  readonly requestId?: string;
  readonly sourceIp?: string;
}

/** One "Object Created" event; also used to build events for objects that are already stored. */
export function objectCreatedEvent(fields: ObjectCreatedFields): ObjectCreatedEvent {
  const partition = partitionOf(fields.region);
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: fields.account,
    // EventBridge's `time` has second precision: "2021-11-12T00:00:00Z".
    time: new Date(fields.time ?? Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: fields.region,
    resources: [`arn:${partition}:s3:::${fields.bucket}`],
    detail: {
      version: '0',
      bucket: { name: fields.bucket },
      object: {
        key: fields.key,
        size: fields.size,
        ...(fields.etag === undefined ? {} : { etag: fields.etag.replace(/^"(.*)"$/, '$1') }),
        sequencer: fields.sequencer ?? Date.now().toString(16).toUpperCase().padStart(18, '0'),
      },
      'request-id': fields.requestId ?? randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
      requester: fields.requester ?? fields.account,
      'source-ip-address': fields.sourceIp ?? '127.0.0.1',
      reason: fields.reason,
    },
  };
}
