import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

import { failures } from '../../../shared/commands/failures';
import {
  FAILURES_INDEX,
  OBJECT_RECORDS_TABLE_OUTPUT,
  objectRecordKey,
  RECORD_PARTITION_KEY,
  RECORD_SORT_KEY,
} from '../../../shared/object-record';
import { setEnvironment } from '../../local/endpoint/environment';
import {
  type FakeExecution,
  FakeStepFunctions,
  NOW,
  runCommand,
  WORKFLOW_ARN,
} from './support/step-functions';

/**
 * `npm run failures` on a stack that keeps object records: the FAILED records of the window come
 * from the table's sparse failure index (a real DynamoDB API: dynalite over loopback, the table as
 * shared/object-record.ts lays it out), each described by Step Functions (mocked, as in
 * failures.test.ts), and the lines are the ones the history scan prints for the same failures.
 * (The local pipeline has no records table until the stack writes one: see lib/object-records.ts.)
 */

const TABLE = 'ObjectRecords';
const BUCKET = 'data';

let server: Server;
let dynamodb: DynamoDBClient;
let restoreEnvironment: () => void;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Only DynamoDB goes to dynalite (the SDK's service-specific endpoint variable); the other
  // clients keep AWS's endpoints, so the lines keep their console URLs.
  restoreEnvironment = setEnvironment({
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
  dynamodb = new DynamoDBClient({});
  const string = (AttributeName: string) => ({ AttributeName, AttributeType: 'S' as const });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [string(RECORD_PARTITION_KEY), string(RECORD_SORT_KEY), string('failedAt')],
      KeySchema: [
        { AttributeName: RECORD_PARTITION_KEY, KeyType: 'HASH' },
        { AttributeName: RECORD_SORT_KEY, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: FAILURES_INDEX,
          KeySchema: [
            { AttributeName: RECORD_PARTITION_KEY, KeyType: 'HASH' },
            { AttributeName: 'failedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
});

afterAll(async () => {
  restoreEnvironment?.();
  dynamodb?.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

let sfn: FakeStepFunctions;
beforeEach(() => {
  sfn = new FakeStepFunctions();
});
afterEach(() => sfn.restore());

/** The object's record as the stack's state machines leave it: FAILED ones carry failedAt (the index's sort key). */
async function record(key: string, execution: FakeExecution, bucket = BUCKET): Promise<void> {
  const failed = execution.status !== 'SUCCEEDED';
  const when = (execution.stopDate ?? NOW).toISOString();
  await dynamodb.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: {
        ...{ bucket: { S: bucket }, objectVersion: { S: objectRecordKey(bucket, key, 'e').objectVersion } },
        objectKey: { S: key },
        status: { S: failed ? 'FAILED' : 'SUCCEEDED' },
        executionArn: { S: execution.executionArn },
        endedAt: { S: when },
        ...(failed && { failedAt: { S: when }, error: { S: execution.error ?? execution.status } }),
      },
    }),
  );
}

test("lists the window's FAILED records, described as the history scan describes them, without listing the workflow", async () => {
  // GIVEN failures with records: two in the window (one a backfill's object), one before it
  const first = sfn.failed('exec-1', 'incoming/a.csv', { hoursAgo: 3 });
  const { mapRunArn } = sfn.backfillRun('run-1', 'SUCCEEDED', { hoursAgo: 1 });
  const child = sfn.failedChild(mapRunArn, 'child-1', 'incoming/b.csv', 2);
  const old = sfn.failed('old', 'incoming/old.csv', { hoursAgo: 30 });
  for (const [key, execution] of [
    ['incoming/a.csv', first],
    ['incoming/b.csv', child],
    ['incoming/old.csv', old],
  ] as const) {
    await record(key, execution);
  }
  // (the same failures as the history scan finds them, to compare with)
  const fromHistory = await runCommand(failures, ['--json']);
  sfn.listed.length = 0;
  // ... an object that succeeded (no failedAt: not in the index), one failed in another bucket, and a
  // failure the records do not know
  await record(
    'incoming/e.csv',
    sfn.failed('elsewhere', 'incoming/e.csv', { hoursAgo: 1 }),
    'another-bucket',
  );
  const ok = sfn.add({ ...first, executionArn: `${first.executionArn}-ok`, status: 'SUCCEEDED' });
  await record('incoming/ok.csv', ok);
  sfn.failed('unrecorded', 'incoming/unrecorded.csv', { hoursAgo: 1 });

  // WHEN the stack has a records table
  sfn.outputs({ [OBJECT_RECORDS_TABLE_OUTPUT]: TABLE, BucketName: BUCKET });
  const fromRecords = await runCommand(failures, ['--json']);

  // THEN the window's two recorded failures are listed, as the history scan reports them
  const document = JSON.parse(fromRecords.text) as { failures: Array<Record<string, unknown>> };
  expect(document.failures.map((f) => f.key)).toEqual(['incoming/a.csv', 'incoming/b.csv']);
  expect(document.failures[1]).toMatchObject({ backfillRunArn: expect.stringMatching(/:run-1$/) });
  expect(fromRecords.text).toBe(
    fromHistory.text.replace(/"since": "[^"]+"/, `"since": "${JSON.parse(fromRecords.text).since}"`),
  );
  // AND the workflow's executions were not listed: only the backfill's failed runs were
  expect(sfn.listed.filter((call) => call.stateMachineArn === WORKFLOW_ARN)).toEqual([]);
  expect(fromRecords.code).toBe(0);
});

test('a backfill run that failed by itself has no record and is still listed; lines as without records', async () => {
  sfn.backfillRun('run-2', 'FAILED', { hoursAgo: 2, error: 'States.ItemReaderFailed', redrivable: true });
  const withoutRecords = await runCommand(failures, []);
  sfn.outputs({ [OBJECT_RECORDS_TABLE_OUTPUT]: TABLE, BucketName: `${BUCKET}-empty` });

  const withRecords = await runCommand(failures, []);

  expect(withRecords.lines).toHaveLength(2);
  expect(withRecords.lines[0]).toMatch(/ {2}backfill run of "incoming\/" {2}States\.ItemReaderFailed {2}/);
  expect(withRecords.lines[0]).toBe(withoutRecords.lines[0]);
  expect(withRecords.lines[1]).toMatch(/^1 failed execution: 1 States\.ItemReaderFailed since /);
});
