import type { AddressInfo } from 'node:net';

import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';

import { UsageError } from '../../shared/commands/command';
import {
  type ObjectRecord,
  objectRecordKey,
  RECORD_PARTITION_KEY,
  RECORD_SORT_KEY,
} from '../../shared/object-record';
import { findRecords, recordQuery, recordReport, recordsTable } from '../../shared/object-records';

/**
 * What `npm run status` reads and prints: the argument's query, the Queries against a real DynamoDB
 * API (dynalite, which pages at 1 MB as DynamoDB does), and the table and JSON of the records.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const STACK = { bucket: 'data-bucket', inputPrefix: 'incoming/' };
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:Workflow:';

function record(key: string, etag: string, more: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    ...objectRecordKey(STACK.bucket, key, etag),
    objectKey: key,
    etag,
    versionId: '',
    status: 'SUCCEEDED',
    executionArn: `${EXECUTION}${etag}`,
    // a string set in the table, which the document client reads as a Set
    executionArns: new Set([`${EXECUTION}${etag}`]),
    receivedAt: '2026-12-01T10:00:00.000Z',
    resultBucket: 'results',
    resultKey: `processed/${key}.json`,
    expiresAt: 1_800_000_000,
    ...more,
  };
}

describe('recordQuery', () => {
  test('a key or prefix in the stack bucket, or an s3:// URL of it', () => {
    expect(recordQuery('incoming/a.csv', STACK)).toEqual({ bucket: 'data-bucket', key: 'incoming/a.csv' });
    expect(recordQuery('s3://data-bucket/incoming/2024/', STACK)).toEqual({
      bucket: 'data-bucket',
      key: 'incoming/2024/',
    });
    // shorter than the input prefix, it still covers it
    expect(recordQuery('inc', STACK)).toEqual({ bucket: 'data-bucket', key: 'inc' });
  });

  test.each([
    [
      's3://other-bucket/incoming/a.csv',
      /^s3:\/\/other-bucket\/incoming\/a\.csv: bucket "other-bucket" is not the stack's: .*--stack/,
    ],
    [
      's3://data-bucket/',
      /^"s3:\/\/data-bucket\/" names no key: pass an object key or a key prefix, e.g. incoming\/report\.csv/,
    ],
    ['', /^"" names no key/],
    [
      'a.csv',
      /^"a\.csv" lies outside the input prefix "incoming\/": .* pass the whole key, e.g\. incoming\/a\.csv$/,
    ],
  ])('%j is refused, naming the fix', (argument, message) => {
    expect(() => recordQuery(argument, STACK)).toThrow(UsageError);
    expect(() => recordQuery(argument, STACK)).toThrow(message);
  });
});

describe('findRecords against DynamoDB (dynalite)', () => {
  let server: ReturnType<typeof dynalite>;
  let client: DynamoDBDocumentClient;
  const table = 'ObjectRecords';

  beforeAll(async () => {
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const raw = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await raw.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [
          { AttributeName: RECORD_PARTITION_KEY, KeyType: 'HASH' },
          { AttributeName: RECORD_SORT_KEY, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: RECORD_PARTITION_KEY, AttributeType: 'S' },
          { AttributeName: RECORD_SORT_KEY, AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    client = DynamoDBDocumentClient.from(raw);
    const records = [
      // two versions of a.csv, the newer one's ETag sorting first
      record('incoming/a.csv', 'ffff', { receivedAt: '2026-12-01T10:00:00.000Z' }),
      record('incoming/a.csv', '0000', { receivedAt: '2026-12-01T11:00:00.000Z', status: 'RUNNING' }),
      // a key that extends a.csv, and one holding the sort key's separator
      record('incoming/a.csv.bak', 'aaaa'),
      record('incoming/a.csv#2', 'bbbb'),
      record('elsewhere/x', 'cccc'),
    ];
    // a prefix with more than 1 MB of records: the Query is read page by page
    const bigCause = 'x'.repeat(300_000);
    for (let i = 0; i < 5; i++) {
      records.push(record(`incoming/big/${i}`, `e${i}`, { status: 'FAILED', cause: bigCause }));
    }
    records.push(record('incoming/a.csv', '1111', { bucket: 'another-bucket' } as Partial<ObjectRecord>));
    for (const item of records) await client.send(new PutCommand({ TableName: table, Item: item }));
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a key: every version of it, oldest first, and nothing of keys that merely start with it', async () => {
    const found = await findRecords(client, table, { bucket: STACK.bucket, key: 'incoming/a.csv' });
    expect(found.match).toBe('key');
    expect(found.records.map((r) => [r.objectKey, r.etag])).toEqual([
      ['incoming/a.csv', 'ffff'],
      ['incoming/a.csv', '0000'],
    ]);
    const hashed = await findRecords(client, table, { bucket: STACK.bucket, key: 'incoming/a.csv#2' });
    expect(hashed.records.map((r) => r.etag)).toEqual(['bbbb']);
  });

  test('a prefix: every key under it, in this bucket only, across pages', async () => {
    const found = await findRecords(client, table, { bucket: STACK.bucket, key: 'incoming/' });
    expect(found.match).toBe('prefix');
    expect(found.records.map((r) => r.objectKey)).toEqual([
      'incoming/a.csv',
      'incoming/a.csv',
      'incoming/a.csv.bak',
      'incoming/a.csv#2',
      'incoming/big/0',
      'incoming/big/1',
      'incoming/big/2',
      'incoming/big/3',
      'incoming/big/4',
    ]);
  });

  test('nothing found is an empty prefix match', async () => {
    expect(await findRecords(client, table, { bucket: STACK.bucket, key: 'incoming/none' })).toEqual({
      match: 'prefix',
      records: [],
    });
  });
});

describe('the table and the JSON of records', () => {
  const succeeded = record('incoming/a.csv', 'ffff', {
    versionId: 'v1',
    startedAt: '2026-12-01T10:00:01.000Z',
    endedAt: '2026-12-01T10:00:09.000Z',
    waitingMs: 1200,
    launchMs: 30_500,
    runMs: 7,
  });
  const failed = record('incoming/b.csv', 'abcd', {
    status: 'FAILED',
    executionArn: `${EXECUTION}redrive-1`,
    executionArns: new Set([`${EXECUTION}redrive-1`, `${EXECUTION}abcd`]),
    error: 'States.TaskFailed',
    cause: '{"Containers":[{"ExitCode":3}]}',
    exitCode: 3,
  });
  const waiting = record('incoming/c.csv', '0123', { status: 'WAITING_FOR_CAPACITY' });

  test('JSON: the result as a location only once SUCCEEDED; absent fields are null', () => {
    expect(recordReport(succeeded)).toEqual({
      key: 'incoming/a.csv',
      etag: 'ffff',
      versionId: 'v1',
      status: 'SUCCEEDED',
      attempts: 1,
      receivedAt: '2026-12-01T10:00:00.000Z',
      startedAt: '2026-12-01T10:00:01.000Z',
      endedAt: '2026-12-01T10:00:09.000Z',
      waitingMs: 1200,
      launchMs: 30_500,
      runMs: 7,
      result: 's3://results/processed/incoming/a.csv.json',
      error: null,
      cause: null,
      exitCode: null,
      executionArn: `${EXECUTION}ffff`,
      executionArns: [`${EXECUTION}ffff`],
    });
    // the holder last, whatever order the set came in
    expect(recordReport(failed)).toMatchObject({
      result: null,
      error: 'States.TaskFailed',
      exitCode: 3,
      executionArns: [`${EXECUTION}abcd`, `${EXECUTION}redrive-1`],
    });
    expect(recordReport(waiting)).toMatchObject({ result: null, error: null, startedAt: null });
  });

  test('the table: aligned columns, seconds, the outcome, the holding execution', () => {
    const lines = recordsTable([succeeded, failed, waiting].map(recordReport));
    expect(lines).toEqual([
      `KEY             VERSION  STATUS                ATTEMPTS  RECEIVED                  STARTED                   ENDED                     WAIT s  LAUNCH s  RUN s  RESULT / ERROR                              EXECUTION`,
      `incoming/a.csv  v1       SUCCEEDED             1         2026-12-01T10:00:00.000Z  2026-12-01T10:00:01.000Z  2026-12-01T10:00:09.000Z  1.200   30.500    0.007  s3://results/processed/incoming/a.csv.json  ${EXECUTION}ffff`,
      `incoming/b.csv  abcd     FAILED                2         2026-12-01T10:00:00.000Z  -                         -                         -       -         -      States.TaskFailed (exit code 3)             ${EXECUTION}redrive-1`,
      `incoming/c.csv  0123     WAITING_FOR_CAPACITY  1         2026-12-01T10:00:00.000Z  -                         -                         -       -         -      -                                           ${EXECUTION}0123`,
    ]);
  });
});
