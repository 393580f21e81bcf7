import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

import type { AtomicFilesystemStore } from './atomic-store';
import { answerS3Error, S3Error } from './s3-errors';

/**
 * UploadPartCopy, which s3rver refuses as NotImplemented: a part of a multipart upload copied from
 * (a byte range of) an existing object. The AWS CLI and SDK transfer managers copy any object over
 * their multipart threshold (8 MiB for `aws s3 cp`) this way. It reads the source through the store
 * and stores the part as s3rver's own UploadPart would, so CompleteMultipartUpload takes it as any part.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
 */

interface StoredObject {
  readonly content: NodeJS.ReadableStream | null;
  readonly metadata: Record<string, unknown>;
}

/** Whether `request` is an UploadPartCopy: PUT /bucket/key?partNumber&uploadId with x-amz-copy-source. */
export function isUploadPartCopy(request: IncomingMessage): boolean {
  if (request.method !== 'PUT' || request.headers['x-amz-copy-source'] === undefined) return false;
  const query = new URL(request.url ?? '/', 'http://local').searchParams;
  return query.has('uploadId') && query.has('partNumber');
}

export async function uploadPartCopy(
  store: AtomicFilesystemStore,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(request.url ?? '/', 'http://local');
    const [bucket] = url.pathname.slice(1).split('/');
    const uploadId = url.searchParams.get('uploadId') ?? '';
    const partNumber = Number(url.searchParams.get('partNumber'));
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
    }
    if (!existsSync(join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId))) {
      throw new S3Error(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: uploadId },
      );
    }
    // `/bucket/key` or `bucket/key`, URL-encoded, with an optional `?versionId=` (s3rver keeps one version)
    const source = decodeURIComponent(String(request.headers['x-amz-copy-source']).split('?')[0]).replace(
      /^\//,
      '',
    );
    const [sourceBucket, ...keyParts] = source.split('/');
    const sourceKey = keyParts.join('/');
    const range = copySourceRange(request.headers['x-amz-copy-source-range']);
    const object = (await store.getObject(sourceBucket, sourceKey, range)) as StoredObject | null;
    if (!object) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: sourceKey });
    if (!object.content) {
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable', {
        RangeRequested: String(request.headers['x-amz-copy-source-range']),
      });
    }
    const { md5 } = await store.putPart(bucket, uploadId, partNumber, object.content);
    response.writeHead(200, { 'Content-Type': 'application/xml' });
    response.end(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`,
    );
  } catch (error) {
    answerS3Error(response, 'UploadPartCopy', error);
  }
}

/** `bytes=first-last` (both inclusive, as S3 requires for a copy), or the whole object. */
function copySourceRange(header: string | string[] | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(header));
  if (!match || Number(match[2]) < Number(match[1])) {
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
    );
  }
  return { start: Number(match[1]), end: Number(match[2]) };
}
