import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * What the local pipeline knows about the worker: only its contract (docs/worker-contract.md), so any
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
    throw lookupFailed(location, error);
  }
}

/** The result's JSON content; null when there is none (the worker wrote none, or it was deleted since). */
export async function readResult(s3: S3Client, location: ResultLocation | undefined): Promise<unknown> {
  if (!location) return null;
  let text: string;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
    text = await object.Body!.transformToString();
  } catch (error) {
    if (isNotFound(error)) return null;
    throw lookupFailed(location, error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(
      `The result s3://${location.bucket}/${location.key} is not JSON: a worker writes one JSON object there (docs/worker-contract.md)`,
    );
  }
}

/** Anything but a missing result is the emulator's own S3 failing, not the worker: said, never taken for "no result". */
function lookupFailed(location: ResultLocation, error: unknown): Error {
  const { name, message, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode ? ` (HTTP ${$metadata.httpStatusCode})` : '';
  return new Error(
    `Looking up the result s3://${location.bucket}/${location.key} failed${status}: ${name}: ${message}`,
    { cause: error },
  );
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NotFound' || name === 'NoSuchKey' || $metadata?.httpStatusCode === 404;
}
