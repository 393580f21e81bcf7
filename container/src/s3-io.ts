import type { Readable } from 'node:stream';

import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { normalizeEtag } from './config';
import { httpStatus } from './log';
import type { SourceObject } from './processor';

export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
  readonly versionId?: string;
}

export type OpenResult =
  | { readonly status: 'found'; readonly body: AsyncIterable<Uint8Array>; readonly object: SourceObject }
  | { readonly status: 'missing' }
  | { readonly status: 'superseded'; readonly currentEtag?: string };

/**
 * Region, endpoint (AWS_ENDPOINT_URL_S3), credentials and checksum behaviour come from the SDK's own
 * environment and config-file chain. Path-style addressing has no standard variable in the JS SDK, so
 * AWS_S3_FORCE_PATH_STYLE=true (used for local S3 servers) is read here.
 */
export function createS3Client(env: NodeJS.ProcessEnv): S3Client {
  return new S3Client({ forcePathStyle: env.AWS_S3_FORCE_PATH_STYLE === 'true' });
}

/**
 * Starts the GET. A pinned ETag is sent as If-Match (S3 answers 412) and also compared with the
 * response, because some S3-compatible servers (s3rver among them) ignore If-Match.
 */
export async function openObject(client: S3Client, ref: ObjectRef, signal: AbortSignal): Promise<OpenResult> {
  let response;
  try {
    response = await client.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        VersionId: ref.versionId,
        IfMatch: ifMatch(ref),
      }),
      { abortSignal: signal },
    );
  } catch (error) {
    if (isNotFound(error)) return { status: 'missing' };
    if (isPreconditionFailed(error)) return { status: 'superseded' };
    throw error;
  }
  const body = response.Body as Readable | undefined;
  if (!body) throw new Error(`GetObject s3://${ref.bucket}/${ref.key} returned no body`);
  const etag = response.ETag === undefined ? undefined : normalizeEtag(response.ETag);
  if (ref.etag !== undefined && etag !== ref.etag) {
    body.destroy();
    return { status: 'superseded', currentEtag: etag };
  }
  // The SDK's abortSignal covers the request; once the body streams, destroying it is what stops the read.
  const stop = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', stop, { once: true });
  body.once('close', () => signal.removeEventListener('abort', stop));
  return {
    status: 'found',
    body,
    object: {
      bucket: ref.bucket,
      key: ref.key,
      versionId: response.VersionId ?? ref.versionId,
      etag,
      contentType: response.ContentType,
      contentLength: response.ContentLength,
    },
  };
}

/**
 * True if the pinned ETag/version is still the key's current one. Checked just before writing, so that a
 * run which read an old version cannot overwrite the result of a newer one that finished first.
 */
export async function isStillCurrent(
  client: S3Client,
  ref: ObjectRef,
  signal: AbortSignal,
): Promise<boolean> {
  if (ref.etag === undefined && ref.versionId === undefined) return true;
  try {
    const head = await client.send(
      new HeadObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        IfMatch: ifMatch(ref),
      }),
      { abortSignal: signal },
    );
    const etagMatches =
      ref.etag === undefined || (head.ETag !== undefined && normalizeEtag(head.ETag) === ref.etag);
    // Objects written while versioning was off or suspended have the version id "null".
    const versionMatches = ref.versionId === undefined || (head.VersionId ?? 'null') === ref.versionId;
    return etagMatches && versionMatches;
  } catch (error) {
    if (isNotFound(error) || isPreconditionFailed(error)) return false;
    throw error;
  }
}

/** One PutObject: S3 makes it visible whole or not at all, so a result is never half-written. */
export async function writeJson(
  client: S3Client,
  bucket: string,
  key: string,
  document: unknown,
  signal: AbortSignal,
): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(document, null, 2)}\n`,
      ContentType: 'application/json',
    }),
    { abortSignal: signal },
  );
}

/** S3 compares If-Match with the quoted ETag. */
function ifMatch(ref: ObjectRef): string | undefined {
  return ref.etag === undefined ? undefined : `"${ref.etag}"`;
}

// NoSuchKey/NoSuchVersion for GET; HEAD responses have no body, so the SDK only knows "NotFound". A
// missing bucket is also a 404 but means misconfiguration, not a deleted object, so it stays an error.
function isNotFound(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return (
    name === 'NoSuchKey' || name === 'NoSuchVersion' || (name === 'NotFound' && httpStatus(error) === 404)
  );
}

function isPreconditionFailed(error: unknown): boolean {
  return httpStatus(error) === 412 || (error as Error | undefined)?.name === 'PreconditionFailed';
}
