/**
 * The object record's contract: one DynamoDB item per object version, written by the stack's state
 * machines (lib/object-records.ts) and read by the commands (`npm run status`, `npm run failures`).
 * Free of SDK imports. docs/object-records.md explains the choices; what writes each field is said
 * at the field.
 *
 * Keys. The partition key is the bucket, the sort key `<key>#<etag>`:
 * - "all versions of a key" is a Query on `bucket` with `begins_with(objectVersion, "<key>#")`, and
 *   "every key under a prefix" one with `begins_with(objectVersion, "<prefix>")`. An S3 key may itself
 *   contain "#", so a reader keeps only the items whose `objectKey` is the key it asked for.
 * - One partition per bucket: its writes are bounded by the executions Step Functions starts (a few
 *   hundred a second at most, StartExecution's quota) times four, under a partition's 1,000 a second.
 * - The version is the ETag (without its quotes), not the version id: the backfill lists with
 *   ListObjectsV2, which has no version ids, and an execution whose ending the recorder learns only
 *   from a status-change event (timed out, aborted) has nothing but its input to find its record by.
 *   The ETag is in every input (event, listing, restart), so the event, the backfill and a restart of
 *   the same bytes find the same record; a new version with other bytes gets its own. Uploading the
 *   same bytes again is the same object: it is not processed twice.
 */

/** The stack output naming the table (`aws cloudformation describe-stacks`). */
export const OBJECT_RECORDS_TABLE_OUTPUT = 'ObjectRecordsTableName';

/** The table's partition key (S): the bucket. */
export const RECORD_PARTITION_KEY = 'bucket';
/** The table's sort key (S): `<key>#<etag>` (objectRecordKey). */
export const RECORD_SORT_KEY = 'objectVersion';
/** The TTL attribute (N, epoch seconds): DynamoDB deletes the record some time after it. */
export const RECORD_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Sparse global index of the FAILED records: partition `bucket`, sort `failedAt`. Only a FAILED record
 * has `failedAt`, so only failures are in it (and cost its writes); `npm run failures` reads a time
 * window with `failedAt BETWEEN :from AND :to`. Projects every attribute.
 */
export const FAILURES_INDEX = 'ByFailure';
/**
 * Sparse global index of the records not yet ended: partition `bucket`, sort `openSince`. The record
 * put sets `openSince`, the ending removes it; the sweep reads the oldest of them to repair an ending
 * whose status-change event never came. Projects the keys and `executionArn` only.
 */
export const OPEN_INDEX = 'ByOpen';

export const RECORD_STATUSES = ['QUEUED', 'WAITING_FOR_CAPACITY', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];
/** The statuses a record keeps: the object's execution has ended. */
export const FINAL_STATUSES: readonly RecordStatus[] = ['SUCCEEDED', 'FAILED'];

/** A record as the commands read it (unmarshalled: numbers are numbers, absent fields undefined). */
export interface ObjectRecord {
  /** Written by the record put (the workflow's first state); with objectVersion the key. */
  readonly bucket: string;
  /** `<objectKey>#<etag>`. */
  readonly objectVersion: string;
  /** The S3 key as EventBridge delivered it: never URL-decoded. Written by the record put. */
  readonly objectKey: string;
  /** The ETag without quotes. Written by the record put. */
  readonly etag: string;
  /** The version id from the event; "" from a backfill's listing or an unversioned bucket. Record put. */
  readonly versionId: string;
  readonly status: RecordStatus;
  /**
   * The execution that holds the object now (the last that was let in). Written by the record put;
   * the recorder writes an ending only for this execution.
   */
  readonly executionArn: string;
  /**
   * Every execution that held the object (a string set: a retried put adds nothing twice; order them
   * by DescribeExecution's startDate). Its size is the attempts. The record put adds; a restart too.
   * `unmarshall` (@aws-sdk/util-dynamodb) gives a Set.
   */
  readonly executionArns: ReadonlySet<string>;
  /** ISO time the first execution started. Written by the first record put (the recorder, if none landed). */
  readonly receivedAt: string;
  /** ISO time the holding execution got its launch slot. Written with status RUNNING. */
  readonly startedAt?: string;
  /** ISO time the holding execution ended. Written by the recorder. */
  readonly endedAt?: string;
  /** Where the worker writes its result (the worker contract): written by the record put. */
  readonly resultBucket: string;
  readonly resultKey: string;
  /** For FAILED: the error name (`States.TaskFailed`, `States.Timeout`, `ABORTED`, ...). Recorder. */
  readonly error?: string;
  /** For FAILED: the cause as Step Functions reported it. Recorder. */
  readonly cause?: string;
  /** For FAILED: the worker's exit code, parsed from a task failure's cause. Recorder. */
  readonly exitCode?: number;
  /** For FAILED: the ISO time it failed (the FAILURES_INDEX sort key). Recorder; a restart removes it. */
  readonly failedAt?: string;
  /** Set while not ended (the OPEN_INDEX sort key): the record put sets it, the recorder removes it. */
  readonly openSince?: string;
  /** The durations of the last task run, in milliseconds (RecordDurations); absent when unknown. Recorder. */
  readonly waitingMs?: number;
  readonly launchMs?: number;
  readonly runMs?: number;
  /** Epoch seconds: objectRecordDays after the last write (the put, then the ending). */
  readonly expiresAt: number;
}

/**
 * The durations, from the execution's start and the task's ECS times: waiting (for a launch slot and
 * Fargate capacity) = task CreatedAt - execution start; launch = StartedAt - CreatedAt; run =
 * StoppedAt - StartedAt. Each is absent when its times are (a task that never started).
 */
export interface RecordDurations {
  readonly waitingMs?: number;
  readonly launchMs?: number;
  readonly runMs?: number;
}

/** The result events, put on the account's default event bus by the recorder. */
export const RESULT_EVENT_SOURCE = 's3-fargate-pipeline';
export const RESULT_DETAIL_TYPES = {
  SUCCEEDED: 'Object Processed',
  FAILED: 'Object Failed',
} as const;

/** A result event's `detail`. */
export interface ResultEventDetail {
  readonly bucket: string;
  readonly key: string;
  /** "" when the object came from a backfill's listing. */
  readonly versionId: string;
  readonly etag: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly executionArn: string;
  readonly attempts: number;
  /** For SUCCEEDED: where the result is. */
  readonly result?: { readonly bucket: string; readonly key: string };
  /** For FAILED. */
  readonly error?: string;
  readonly cause?: string;
  readonly exitCode?: number;
  readonly durations: RecordDurations;
}

/** The ETag as a record key holds it: S3 listings quote it, events do not. */
export function unquotedEtag(etag: string): string {
  return etag.replace(/"/g, '');
}

/** A record's key. `version` is the object's ETag (quoted or not). */
export function objectRecordKey(
  bucket: string,
  key: string,
  version: string,
): { readonly bucket: string; readonly objectVersion: string } {
  return { bucket, objectVersion: `${key}#${unquotedEtag(version)}` };
}
