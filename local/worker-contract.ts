import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * What the local pipeline knows about the worker: only its contract (README "The worker contract"), so any
 * container that honours it runs locally as the bundled one does. The result of a task that got
 * `KEY`, `OUTPUT_BUCKET` and `OUTPUT_PREFIX` is the object `OUTPUT_PREFIX + KEY + ".json"` in
 * `OUTPUT_BUCKET`; the worker's log lines are never read to find it.
 */

export interface ResultLocation {
  readonly bucket: string;
  readonly key: string;
}

/** Where the worker writes its result, from the environment its task got; undefined when that lacks a setting. */
export function resultLocationFor(environment: Readonly<Record<string, string>>): ResultLocation | undefined {
  const { KEY, OUTPUT_BUCKET, OUTPUT_PREFIX } = environment;
  if (KEY === undefined || OUTPUT_BUCKET === undefined || OUTPUT_PREFIX === undefined) return undefined;
  return { bucket: OUTPUT_BUCKET, key: `${OUTPUT_PREFIX}${KEY}.json` };
}

/** The result location, if the object is there (a worker that skipped the object wrote none). */
export async function writtenResult(
  s3: S3Client,
  environment: Readonly<Record<string, string>> | undefined,
): Promise<ResultLocation | undefined> {
  const location = environment && resultLocationFor(environment);
  if (!location) return undefined;
  try {
    await s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
    return location;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    // Anything else is the emulator's own S3 failing, not the worker: say so rather than report "no result".
    const { name, message, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } };
    const status = $metadata?.httpStatusCode ? ` (HTTP ${$metadata.httpStatusCode})` : '';
    throw new Error(
      `Looking up the result s3://${location.bucket}/${location.key} failed${status}: ${name}: ${message}`,
      { cause: error },
    );
  }
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NotFound' || name === 'NoSuchKey' || $metadata?.httpStatusCode === 404;
}
