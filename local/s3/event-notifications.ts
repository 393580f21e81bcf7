import type { EventEmitter } from 'node:events';

import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import {
  type ObjectCreatedEvent,
  objectCreatedEvents,
  type S3rverNotification,
} from './object-created-events';
import type { LocalS3Server } from './server';

/**
 * S3's EventBridge notifications, locally: every object write the embedded server reports becomes
 * the "Object Created" events S3 sends to the default bus. Copies arrive without an ETag from
 * s3rver, so those are completed with a HeadObject first.
 */

export interface S3EventNotificationsOptions {
  readonly account: string;
  readonly region: string;
  /** Each event, in the order S3 would send them for one request. */
  readonly onEvent: (event: ObjectCreatedEvent) => void;
  /** A failure turning a notification into events: a bug in the emulator, not an S3 behaviour. */
  readonly onError: (notification: S3rverNotification, error: unknown) => void;
}

export class S3EventNotifications {
  private inFlight = 0;
  private sending = true;

  constructor(server: LocalS3Server, s3: S3Client, options: S3EventNotificationsOptions) {
    // s3rver is a Koa app, an EventEmitter; @types/s3rver does not declare that.
    (server.server as unknown as EventEmitter).on('event', (notification: S3rverNotification) => {
      if (!this.sending) return;
      this.inFlight++;
      objectCreatedEvents(notification, {
        account: options.account,
        region: options.region,
        lookUp: async (bucketName, key) => {
          try {
            const head = await s3.send(new HeadObjectCommand({ Bucket: bucketName, Key: key }));
            return { size: head.ContentLength, etag: head.ETag };
          } catch {
            return undefined; // Deleted already: S3 still sends the event; the worker will find it gone.
          }
        },
      })
        .then((events) => events.forEach(options.onEvent))
        .catch((error: unknown) => options.onError(notification, error))
        .finally(() => this.inFlight--);
    });
  }

  /** Notifications still being turned into events. */
  get pending(): number {
    return this.inFlight;
  }

  /** Sends no more events (those in flight still arrive). */
  stop(): void {
    this.sending = false;
  }
}
