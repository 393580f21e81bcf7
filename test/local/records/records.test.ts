import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { LocalPipelineOptions } from '../../../local/pipeline';
import { executionArnsOf } from '../../../shared/object-records';
import { releasedAfterEach, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';
import { PipelineClient, tasksRun, templateWithResultConsumer } from './support';

/**
 * Issue 21 end to end on the local pipeline (the synthesized template, its records table in the
 * local DynamoDB, its recorder on the local bus): one record per object version, one task per
 * version however often its event arrives, the result events a consumer's rule receives, a redrive
 * by `npm run redrive` and `npm run status`, both as child processes with AWS_ENDPOINT_URL set.
 * The pipeline's clock is the fast real one (100 times real time); nothing asserts a duration.
 */

let dir: string;
let templatePath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'records-test-'));
  templatePath = templateWithResultConsumer(await synthesizedTemplate(), dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const used = releasedAfterEach();
let client: PipelineClient | undefined;
afterEach(() => {
  client?.destroy();
  client = undefined;
});

async function start(options: Partial<LocalPipelineOptions> = {}): Promise<PipelineClient> {
  used.pipeline = await startTestPipeline(templatePath, options);
  client = await PipelineClient.of(used.pipeline);
  return client;
}

test('an event delivered twice runs one task and leaves one SUCCEEDED record; the duplicate ends at once', async () => {
  const aws = await start({ faults: { duplicateEvents: 1 } });
  const { pipeline } = aws;
  const key = `${pipeline.inputPrefix}twice.json`;

  await pipeline.upload(key, '{"n":2}');
  await pipeline.waitForIdle();

  // two executions started, one ran the task
  const executions = pipeline.executions();
  expect(executions.map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect(tasksRun(pipeline)).toBe(1);
  const holder = executions.find((e) => e.attempts.length > 0)!;
  const duplicate = executions.find((e) => e !== holder)!;
  expect(duplicate.attempts).toEqual([]);

  // one record, held by the execution that ran
  const records = await aws.records(key);
  expect(records).toEqual([
    expect.objectContaining({
      objectKey: key,
      status: 'SUCCEEDED',
      executionArn: holder.executionArn,
      resultKey: holder.result?.key,
    }),
  ]);
  const [record] = records;
  expect(executionArnsOf(record)).toEqual([holder.executionArn]);
  expect(record.error).toBeUndefined();
  expect(record.receivedAt <= record.startedAt! && record.startedAt! <= record.endedAt!).toBe(true);
  for (const duration of [record.waitingMs, record.launchMs, record.runMs]) {
    expect(duration).toEqual(expect.any(Number));
    expect(duration).toBeGreaterThanOrEqual(0);
  }

  // one result event for the object, with the record's facts
  expect(await aws.resultEvents()).toEqual([
    {
      ...expectedEnvelope('Object Processed'),
      detail: expect.objectContaining({
        bucket: pipeline.bucket,
        key,
        etag: record.etag,
        status: 'SUCCEEDED',
        executionArn: holder.executionArn,
        attempts: 1,
        result: { bucket: record.resultBucket, key: record.resultKey },
        durations: { waitingMs: record.waitingMs, launchMs: record.launchMs, runMs: record.runMs },
      }),
    },
  ]);
});

test('a new version of the key runs again; the same bytes again do not', async () => {
  const aws = await start();
  const { pipeline } = aws;
  const key = `${pipeline.inputPrefix}versions.txt`;

  await pipeline.upload(key, 'version 1\n');
  await pipeline.waitForIdle();
  await pipeline.upload(key, 'version 2\n');
  await pipeline.waitForIdle();
  await pipeline.upload(key, 'version 2\n');
  await pipeline.waitForIdle();

  expect(pipeline.executions()).toHaveLength(3);
  expect(tasksRun(pipeline)).toBe(2);
  const records = await aws.records(key);
  expect(records.map((r) => [r.objectKey, r.status, executionArnsOf(r).length])).toEqual([
    [key, 'SUCCEEDED', 1],
    [key, 'SUCCEEDED', 1],
  ]);
  expect(new Set(records.map((r) => r.etag)).size).toBe(2);
  expect((await aws.resultEvents()).map((e) => [e['detail-type'], e.detail.etag])).toEqual(
    records.map((r) => ['Object Processed', r.etag]),
  );
});

test("a failed object's record has the worker's exit code; npm run redrive runs it again and the record says so", async () => {
  const aws = await start({ faults: { taskFailures: 1 } });
  const { pipeline } = aws;
  const key = `${pipeline.inputPrefix}fails-once.csv`;

  await pipeline.upload(key, 'a,b\n1,2\n');
  await pipeline.waitForIdle();

  const [failedExecution] = pipeline.executions();
  expect(failedExecution.status).toBe('FAILED');
  const [failed] = await aws.records(key);
  expect(failed).toMatchObject({
    status: 'FAILED',
    error: 'States.TaskFailed',
    exitCode: 1,
  });
  expect(executionArnsOf(failed)).toEqual([failedExecution.executionArn]);
  expect(failed.endedAt).toEqual(expect.any(String));
  expect(await aws.resultEvents()).toEqual([
    {
      ...expectedEnvelope('Object Failed'),
      detail: expect.objectContaining({
        key,
        status: 'FAILED',
        error: 'States.TaskFailed',
        exitCode: 1,
        executionArn: failedExecution.executionArn,
      }),
    },
  ]);

  // WHEN `npm run redrive` runs against the endpoint
  const redrive = await aws.command('redrive', []);
  expect(redrive.stderr).not.toMatch(/error/);
  expect(redrive.code).toBe(0);
  await pipeline.waitForIdle();

  // THEN the object ran again in a new execution, which the record now names
  const restarted = pipeline.executions().find((e) => e !== failedExecution)!;
  expect(restarted.name).toMatch(/^redrive-/);
  expect(restarted.status).toBe('SUCCEEDED');
  const [record] = await aws.records(key);
  expect(record).toMatchObject({
    status: 'SUCCEEDED',
    executionArn: restarted.executionArn,
  });
  expect(executionArnsOf(record)).toEqual([failedExecution.executionArn, restarted.executionArn]);
  expect(record.failedAt).toBeUndefined();
  expect((await aws.resultEvents()).map((e) => [e['detail-type'], e.detail.executionArn])).toEqual([
    ['Object Processed', restarted.executionArn],
  ]);

  // AND a second redrive finds nothing to run
  expect((await aws.command('redrive', [])).code).toBe(0);
  await pipeline.waitForIdle();
  expect(pipeline.executions()).toHaveLength(2);
});

describe('npm run status against the local endpoint', () => {
  test('a key: its record as a table and as JSON; a prefix: every key under it', async () => {
    const aws = await start({ faults: { taskFailures: 1 } });
    const { pipeline } = aws;
    const failedKey = `${pipeline.inputPrefix}status/a.txt`;
    const okKey = `${pipeline.inputPrefix}status/b.txt`;
    await pipeline.upload(failedKey, 'a\n');
    await pipeline.waitForIdle();
    await pipeline.upload(okKey, 'b\n');
    await pipeline.waitForIdle();
    const [failed] = await aws.records(failedKey);
    const [succeeded] = await aws.records(okKey);

    const table = await aws.command('status', [failedKey]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^KEY +VERSION +STATUS +ATTEMPTS +RECEIVED +STARTED +ENDED +WAIT s +LAUNCH s +RUN s +RESULT \/ ERROR +EXECUTION$/,
    );
    expect(lines[1].split(/ {2,}/)).toEqual([
      failedKey,
      failed.etag,
      'FAILED',
      '1',
      failed.receivedAt,
      failed.startedAt,
      failed.endedAt,
      (failed.waitingMs! / 1000).toFixed(3),
      (failed.launchMs! / 1000).toFixed(3),
      (failed.runMs! / 1000).toFixed(3),
      'States.TaskFailed (exit code 1)',
      failed.executionArn,
    ]);

    const json = await aws.command('status', [
      '--json',
      `s3://${pipeline.bucket}/${pipeline.inputPrefix}status/`,
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      bucket: pipeline.bucket,
      match: 'prefix',
      records: [
        expect.objectContaining({ key: failedKey, status: 'FAILED', exitCode: 1, result: null }),
        expect.objectContaining({
          key: okKey,
          status: 'SUCCEEDED',
          result: `s3://${succeeded.resultBucket}/${succeeded.resultKey}`,
          executionArns: [succeeded.executionArn],
        }),
      ],
    });
  });

  test("no record: exit 1 and one line; a bucket that is not the stack's, or no key: exit 2 and one line", async () => {
    const aws = await start();
    const { pipeline } = aws;

    const none = await aws.command('status', [`${pipeline.inputPrefix}never-uploaded.txt`]);
    expect([none.code, none.stdout, lastLine(none.stderr)]).toEqual([
      1,
      '',
      `no records of s3://${pipeline.bucket}/${pipeline.inputPrefix}never-uploaded.txt (as a key or a prefix): records expire, and only objects under the input prefix have them`,
    ]);
    const other = await aws.command('status', ['s3://someone-elses-bucket/incoming/a.txt']);
    expect(other.code).toBe(2);
    expect(lastLine(other.stderr)).toMatch(
      /^error: s3:\/\/someone-elses-bucket\/incoming\/a\.txt: bucket "someone-elses-bucket" is not the stack's/,
    );
    const outside = await aws.command('status', ['a.txt']);
    expect(outside.code).toBe(2);
    expect(lastLine(outside.stderr)).toMatch(/^error: "a\.txt" lies outside the input prefix/);
    const nothing = await aws.command('status', []);
    expect(nothing.code).toBe(2);
    expect(lastLine(nothing.stderr)).toMatch(/^error: no object given: pass an object key or a key prefix/);
  });
});

/** The envelope of a result event as EventBridge delivers it to a target. */
function expectedEnvelope(detailType: string) {
  return {
    version: '0',
    id: expect.any(String),
    'detail-type': detailType,
    source: 's3-fargate-pipeline',
    account: expect.any(String),
    time: expect.any(String),
    region: expect.any(String),
    resources: expect.any(Array),
  };
}

/** The SDK may warn about the Node version first; the command's own line is the last. */
function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}
