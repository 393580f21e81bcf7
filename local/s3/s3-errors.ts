import type { ServerResponse } from 'node:http';

/**
 * S3's errors for the operations served beside s3rver (list-objects-v2.ts, upload-part-copy.ts):
 * s3rver's own error model, so they carry the code, status and XML body its operations answer with.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const S3Error = require('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: Record<string, string>,
) => Error & { status: number; toXML(): string };

/** Answers `error` as S3 does: an S3Error as it is, anything else an InternalError naming `operation`. */
export function answerS3Error(response: ServerResponse, operation: string, error: unknown): void {
  const s3Error =
    error instanceof Error && 'toXML' in error
      ? (error as InstanceType<typeof S3Error>)
      : new S3Error('InternalError', `${operation} failed: ${(error as Error).message}`);
  response.writeHead(s3Error.status, { 'Content-Type': 'application/xml' });
  response.end(s3Error.toXML());
}
