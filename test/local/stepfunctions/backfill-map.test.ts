import { createHash } from 'node:crypto';

import { ListObjectsCommand } from '@aws-sdk/client-s3';

import { runBackfill } from '../../../local/stepfunctions/backfill-map';
import {
  mostTasksAtOnce,
  releasedAfterEach,
  sha256,
  startTestPipeline,
  type TestDirectories,
  testDirectories,
} from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The backfill state machine's Map, run locally over objects that existed before the run: real
 * s3rver, real worker bundle, the backfill state machine's Distributed Map in the local engine.
 *
 * Seeding: objects are written while the rule is DISABLED (`ruleState`), so no event processes them,
 * as for objects that predate the deployment; the backfill then runs in a pipeline whose rule is
 * enabled, so a result that re-triggered the event-driven path would show up as an extra execution.
 */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

const bodyOf = (key: string) => `contents of ${key}\n`;

async function seed(keys: readonly string[]): Promise<TestDirectories> {
  const directories = testDirectories();
  const seeding = await startTestPipeline(templatePath, { ...directories, ruleState: 'DISABLED' });
  await Promise.all(keys.map((key) => seeding.upload(key, bodyOf(key))));
  await seeding.waitForIdle();
  expect(seeding.executions()).toEqual([]);
  await seeding.stop();
  return directories;
}

test('a backfill of 50 existing objects processes each once, correctly, at most MaxConcurrency at a time', async () => {
  const keys = [
    ...Array.from({ length: 40 }, (_, i) => `incoming/2024/object ${String(i).padStart(2, '0')}.txt`),
    ...Array.from({ length: 10 }, (_, i) => `incoming/2025/o+${i}.csv`),
  ].sort();
  const dirs = (used.dirs = await seed(keys));
  // Pages of 7 keys: the listing follows the pages to the end.
  const pipeline = (used.pipeline = await startTestPipeline(templatePath, { ...dirs, listPageSize: 7 }));

  const result = await runBackfill(pipeline);
  await pipeline.waitForIdle();

  expect(result).toMatchObject({
    prefix: 'incoming/',
    status: 'SUCCEEDED',
    items: 50,
    failed: 0,
    notStarted: 0,
    toleratedFailurePercentage: 10,
    maxConcurrency: 10,
  });
  // Exactly one execution per object, and none from the rule: the results under processed/ matched nothing.
  expect(pipeline.executions().map((e) => e.key)).toEqual(keys);
  expect(result.executions).toEqual(pipeline.executions());
  // The backfill is an execution of its own, whose Map Run started one child per object.
  const mapRunArn = result.executions[0].mapRunArn;
  expect(mapRunArn).toMatch(
    /^arn:aws:states:us-east-1:000000000000:mapRun:BackfillStateMachine395F6B27\/ForEachExistingObject:/,
  );
  expect(
    result.executions.every(
      (e) => e.mapRunArn === mapRunArn && e.parentExecutionArn === result.execution.executionArn,
    ),
  ).toBe(true);
  expect(result.execution.history.events.map((e) => e.type)).toEqual([
    'ExecutionStarted',
    'MapStateEntered',
    'MapRunStarted',
    'MapRunSucceeded',
    'MapStateExited',
    'ExecutionSucceeded',
  ]);
  for (const execution of result.executions) {
    const body = bodyOf(execution.key);
    // The ItemSelector applied to the listing entry: the quoted ETag, as S3's listing gives it.
    expect(execution.input).toEqual({
      bucket: pipeline.bucket,
      key: execution.key,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      size: Buffer.byteLength(body),
      versionId: '',
    });
    expect(execution.status).toBe('SUCCEEDED');
    // Beside the worker's summary line: a missing result then shows how the worker ended, if it did.
    expect({
      worker: execution.attempts.at(-1)?.summary,
      result: await pipeline.readResult(execution),
    }).toMatchObject({
      worker: { outcome: 'processed' },
      result: { key: execution.key, sha256: sha256(body) },
    });
  }
  const most = mostTasksAtOnce(result.executions);
  expect(most).toBeLessThanOrEqual(10);
  expect(most).toBeGreaterThan(1); // the limit was actually approached, not trivially met
});

test('a sub-prefix backfill processes only that sub-prefix', async () => {
  const dirs = (used.dirs = await seed([
    'incoming/a/1.txt',
    'incoming/a/2.txt',
    'incoming/b/1.txt',
    'incoming/b/2.txt',
  ]));
  const pipeline = (used.pipeline = await startTestPipeline(templatePath, { ...dirs }));

  const result = await runBackfill(pipeline, { subPrefix: 'b/' });

  expect(result).toMatchObject({ prefix: 'incoming/b/', status: 'SUCCEEDED', items: 2, failed: 0 });
  expect(pipeline.executions().map((e) => e.key)).toEqual(['incoming/b/1.txt', 'incoming/b/2.txt']);
});

describe('ToleratedFailurePercentage (10 in the template)', () => {
  /**
   * A key the worker really refuses: "processed/" + key + ".json" would exceed S3's 1024-byte key
   * limit, so it exits 1 (ConfigError) and the item fails through the Catch and the Fail state.
   */
  const unprocessable = (prefix: string) => {
    const segments = `${'x'.repeat(200)}/`.repeat(4);
    return prefix + segments + 'y'.repeat(1015 - prefix.length - segments.length);
  };

  test('1 failed item of 10 (10%) is tolerated; 1 of 4 (25%) fails the run', async () => {
    const ok = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => `${prefix}${i}.txt`);
    const dirs = (used.dirs = await seed([
      ...ok('incoming/tolerated/', 9),
      unprocessable('incoming/tolerated/'),
      ...ok('incoming/too-many/', 3),
      unprocessable('incoming/too-many/'),
    ]));
    const pipeline = (used.pipeline = await startTestPipeline(templatePath, { ...dirs }));

    const tolerated = await runBackfill(pipeline, { subPrefix: 'tolerated/' });
    const tooMany = await runBackfill(pipeline, { subPrefix: 'too-many/' });

    expect(tolerated).toMatchObject({ status: 'SUCCEEDED', items: 10, failed: 1, aborted: 0 });
    expect(tooMany).toMatchObject({ status: 'FAILED', items: 4, failed: 1 });
    // The failed Map Run stopped the children still running then (how many had ended by then is the
    // real clock's: exact on a virtual one in api-sdk.test.ts); none is left running.
    const others = tooMany.executions.filter((e) => e.status !== 'FAILED');
    expect(others.filter((e) => e.status !== 'SUCCEEDED' && e.status !== 'ABORTED')).toEqual([]);
    expect(tooMany.aborted).toBe(others.filter((e) => e.status === 'ABORTED').length);
    const failures = [...tolerated.executions, ...tooMany.executions].filter((e) => e.status === 'FAILED');
    expect(failures.map((e) => e.key)).toEqual([
      unprocessable('incoming/tolerated/'),
      unprocessable('incoming/too-many/'),
    ]);
    for (const failure of failures) {
      expect(failure.error).toBe('States.TaskFailed');
      expect(failure.attempts.at(-1)?.summary).toMatchObject({ outcome: 'config-error' });
    }
  });

  test('once the run has failed, the items not yet started are skipped, as a failed Map Run stops', async () => {
    // One item at a time, so which items had started when the threshold was crossed is certain.
    const oneAtATime = await synthesizedTemplate({ backfillConcurrency: '1' });
    // Listed in key order: the two unprocessable keys (under a1/ and a2/) come before b0-b9; 2 of 12 is over 10%.
    const ok = Array.from({ length: 10 }, (_, i) => `incoming/stop/b${i}.txt`);
    const dirs = (used.dirs = await seed([
      unprocessable('incoming/stop/a1/'),
      unprocessable('incoming/stop/a2/'),
      ...ok,
    ]));
    const pipeline = (used.pipeline = await startTestPipeline(oneAtATime, { ...dirs }));

    const result = await runBackfill(pipeline, { subPrefix: 'stop/' });

    expect(result).toMatchObject({
      status: 'FAILED',
      items: 12,
      failed: 2,
      notStarted: 10,
      maxConcurrency: 1,
    });
    expect(result.executions.map((e) => [e.key, e.status])).toEqual([
      [unprocessable('incoming/stop/a1/'), 'FAILED'],
      [unprocessable('incoming/stop/a2/'), 'FAILED'],
    ]);
    // Nothing else ran: no result was written for any item.
    const results = await pipeline.s3.send(
      new ListObjectsCommand({ Bucket: pipeline.bucket, Prefix: 'processed/' }),
    );
    expect(results.Contents ?? []).toEqual([]);
  });
});
