import { type DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';

import { UsageError } from './commands/command';
import { type ObjectRecord, RECORD_PARTITION_KEY, RECORD_SORT_KEY, type RecordStatus } from './object-record';

/**
 * Reading the object records (shared/object-record.ts is their contract): which records an argument
 * of `npm run status` names, the queries that find them, and how they are shown, as a table or as
 * JSON. `npm start`'s summary reads the local records with the same queries.
 */

/** What the user asked for: one object (every version of it) or every key under a prefix. */
export interface RecordQuery {
  readonly bucket: string;
  /** A key, or a key prefix. */
  readonly key: string;
}

/**
 * The query an argument stands for: a key or prefix in the stack's bucket, or `s3://bucket/key`.
 * Only objects under the input prefix are processed, so only they have records.
 */
export function recordQuery(argument: string, stack: { bucket: string; inputPrefix: string }): RecordQuery {
  let bucket = stack.bucket;
  let key = argument;
  const url = /^s3:\/\/([^/]*)\/?(.*)$/.exec(argument);
  if (url) {
    [, bucket, key] = url;
    if (bucket !== stack.bucket) {
      throw new UsageError(
        `${argument}: bucket "${bucket}" is not the stack's: its records are of s3://${stack.bucket}/${stack.inputPrefix}…; ` +
          'pass a key there, or --stack for the stack that watches that bucket',
      );
    }
  }
  if (key === '') {
    throw new UsageError(
      `${JSON.stringify(argument)} names no key: pass an object key or a key prefix, e.g. ${stack.inputPrefix}report.csv or ${stack.inputPrefix}`,
    );
  }
  // A prefix shorter than the input prefix (e.g. `inc`) still covers it.
  if (!key.startsWith(stack.inputPrefix) && !stack.inputPrefix.startsWith(key)) {
    throw new UsageError(
      `${JSON.stringify(argument)} lies outside the input prefix "${stack.inputPrefix}": only objects under it are ` +
        `processed and recorded; pass the whole key, e.g. ${stack.inputPrefix}${key}`,
    );
  }
  return { bucket, key };
}

export interface FoundRecords {
  /** `key`: the argument is a key with records (every version of it); `prefix`: every key under it. */
  readonly match: 'key' | 'prefix';
  /** By key, then oldest version first. */
  readonly records: readonly ObjectRecord[];
}

/**
 * The records of `query.key` itself (every version); if it has none, of every key under it as a
 * prefix. Each is one Query on the table's key, paged: never a scan.
 */
export async function findRecords(
  client: DynamoDBDocumentClient,
  tableName: string,
  query: RecordQuery,
): Promise<FoundRecords> {
  // A key may itself hold "#", the sort key's separator: keep only what the argument names.
  const ofKey = (await queryAll(client, tableName, query.bucket, `${query.key}#`)).filter(
    (record) => record.objectKey === query.key,
  );
  if (ofKey.length > 0) return { match: 'key', records: sorted(ofKey) };
  const underPrefix = (await queryAll(client, tableName, query.bucket, query.key)).filter((record) =>
    record.objectKey.startsWith(query.key),
  );
  return { match: 'prefix', records: sorted(underPrefix) };
}

async function queryAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  bucket: string,
  sortKeyPrefix: string,
): Promise<ObjectRecord[]> {
  const records: ObjectRecord[] = [];
  const pages = paginateQuery(
    { client },
    {
      TableName: tableName,
      KeyConditionExpression: '#bucket = :bucket AND begins_with(#version, :prefix)',
      ExpressionAttributeNames: { '#bucket': RECORD_PARTITION_KEY, '#version': RECORD_SORT_KEY },
      ExpressionAttributeValues: { ':bucket': bucket, ':prefix': sortKeyPrefix },
      // Strongly consistent: a status asked for just after a write shows it.
      ConsistentRead: true,
    },
  );
  for await (const page of pages) records.push(...((page.Items ?? []) as ObjectRecord[]));
  return records;
}

function sorted(records: ObjectRecord[]): ObjectRecord[] {
  return records.sort(
    (a, b) => a.objectKey.localeCompare(b.objectKey) || a.receivedAt.localeCompare(b.receivedAt),
  );
}

/** A record as `--json` prints it: the record's fields, the result as one location. */
export interface RecordReport {
  readonly key: string;
  readonly etag: string;
  /** "" for an object a backfill found (its listing has no version ids). */
  readonly versionId: string;
  readonly status: RecordStatus;
  readonly attempts: number;
  readonly receivedAt: string;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly waitingMs: number | null;
  readonly launchMs: number | null;
  readonly runMs: number | null;
  /** `s3://bucket/key` of the result, once SUCCEEDED. */
  readonly result: string | null;
  readonly error: string | null;
  readonly cause: string | null;
  readonly exitCode: number | null;
  /** The execution that holds the object now. */
  readonly executionArn: string;
  /** Every execution that held it, oldest first (a redrive adds one). */
  readonly executionArns: readonly string[];
}

export function recordReport(record: ObjectRecord): RecordReport {
  return {
    key: record.objectKey,
    etag: record.etag,
    versionId: record.versionId,
    status: record.status,
    // The contract: the set's size is the attempts.
    attempts: executionArnsOf(record).length,
    receivedAt: record.receivedAt,
    startedAt: record.startedAt ?? null,
    endedAt: record.endedAt ?? null,
    waitingMs: record.waitingMs ?? null,
    launchMs: record.launchMs ?? null,
    runMs: record.runMs ?? null,
    result: record.status === 'SUCCEEDED' ? `s3://${record.resultBucket}/${record.resultKey}` : null,
    error: record.error ?? null,
    cause: record.cause ?? null,
    exitCode: record.exitCode ?? null,
    executionArn: record.executionArn,
    executionArns: executionArnsOf(record),
  };
}

/**
 * Every execution that held the object, the holder last. The record keeps them as a string set (no
 * order); the holder is the newest, and before it only failed executions can have held the object
 * (a restart reopens a FAILED record only). Those earlier ones are listed as the set gives them:
 * ordering them would take a DescribeExecution each, for a record that rarely has more than one.
 */
export function executionArnsOf(record: Pick<ObjectRecord, 'executionArns' | 'executionArn'>): string[] {
  const earlier = [...record.executionArns].filter((arn) => arn !== record.executionArn);
  return [...earlier, record.executionArn];
}

const COLUMNS = [
  'KEY',
  'VERSION',
  'STATUS',
  'ATTEMPTS',
  'RECEIVED',
  'STARTED',
  'ENDED',
  'WAIT s',
  'LAUNCH s',
  'RUN s',
  'RESULT / ERROR',
  'EXECUTION',
] as const;

/** The records as a table: a header, then one line per record, columns aligned; `-` where empty. */
export function recordsTable(reports: readonly RecordReport[]): string[] {
  const rows = [[...COLUMNS], ...reports.map(tableRow)];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  '),
  );
}

function tableRow(report: RecordReport): string[] {
  return [
    report.key,
    report.versionId || report.etag,
    report.status,
    String(report.attempts),
    report.receivedAt,
    report.startedAt ?? '-',
    report.endedAt ?? '-',
    seconds(report.waitingMs),
    seconds(report.launchMs),
    seconds(report.runMs),
    outcome(report),
    report.executionArn,
  ];
}

/** e.g. `12.345`; `-` when unknown. */
function seconds(ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(3);
}

/** The result's location, or the error with the worker's exit code, or `-` while under way. */
function outcome(report: RecordReport): string {
  if (report.result) return report.result;
  if (!report.error) return '-';
  return report.exitCode === null ? report.error : `${report.error} (exit code ${report.exitCode})`;
}
