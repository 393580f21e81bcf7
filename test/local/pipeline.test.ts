import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';

import { RealClock } from '../../local/clock';
import type { LocalPipeline } from '../../local/pipeline';
import { releasedAfterEach, sha256, startTestPipeline } from './support/pipeline';
import { synthesizedTemplate } from './support/synthesized-template';

/** End to end through the library API: real s3rver, real worker bundle, the local Step Functions engine. */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

async function keysUnder(p: LocalPipeline, prefix: string): Promise<string[]> {
  const listed = await p.s3.send(new ListObjectsV2Command({ Bucket: p.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

test('tricky keys are processed under their exact names, and results trigger nothing', async () => {
  const pipeline = (used.pipeline = await startTestPipeline(templatePath));
  const objects: Record<string, string | Buffer> = {
    'incoming/with space.txt': 'spaces\n',
    'incoming/plus+sign.csv': 'a,b\n1,2\n',
    'incoming/percent%2Bencoded.txt': 'not decoded\n',
    'incoming/ünïcödé/日本語 ✓.txt': 'unicode path\n',
    'incoming/binary.bin': Buffer.from([0, 1, 2, 253, 254, 255]),
  };
  for (const [key, body] of Object.entries(objects)) await pipeline.upload(key, body);
  await pipeline.waitForIdle();

  const executions = pipeline.executions();
  // One execution per upload: the result objects written under processed/ matched no rule.
  expect(executions.map((e) => e.key).sort()).toEqual(Object.keys(objects).sort());
  for (const execution of executions) {
    expect({ key: execution.key, status: execution.status, error: execution.error }).toEqual({
      key: execution.key,
      status: 'SUCCEEDED',
      error: undefined,
    });
    const result = (await pipeline.readResult(execution)) as Record<string, unknown>;
    expect(execution.result?.key).toBe(`processed/${execution.key}.json`);
    expect(result).toMatchObject({ key: execution.key, sha256: sha256(objects[execution.key]) });
  }
  expect(await keysUnder(pipeline, 'processed/')).toEqual(
    Object.keys(objects)
      .map((k) => `processed/${k}.json`)
      .sort(),
  );
});

test('an object deleted before its task starts gives a successful execution without a result', async () => {
  const pipeline = (used.pipeline = await startTestPipeline(templatePath));
  await pipeline.upload('incoming/short-lived.txt', 'here for a moment');
  await pipeline.waitForIdle();
  const [first] = pipeline.executions();
  // Delete the object and its result, then deliver an event for another version of it (the same
  // event again would be a duplicate, which ends at once): the task starts after the deletion.
  await pipeline.s3.send(
    new DeleteObjectCommand({ Bucket: pipeline.bucket, Key: 'incoming/short-lived.txt' }),
  );
  await pipeline.s3.send(new DeleteObjectCommand({ Bucket: pipeline.bucket, Key: first.result!.key }));

  const event = first.event as { detail: { object: Record<string, unknown> } };
  const anotherVersion = {
    ...event,
    detail: { ...event.detail, object: { ...event.detail.object, etag: 'gone' } },
  };
  const second = (await pipeline.deliver(anotherVersion))!;
  await pipeline.waitForIdle();

  expect(second.status).toBe('SUCCEEDED');
  expect(second.attempts.at(-1)?.summary?.outcome).toBe('not-found');
  expect(second.result).toBeUndefined();
  expect(await pipeline.readResult(second)).toBeNull();
  expect(await keysUnder(pipeline, 'processed/')).toEqual([]);
});

test('the same event delivered twice yields two executions and one result', async () => {
  const pipeline = (used.pipeline = await startTestPipeline(templatePath));
  await pipeline.upload('incoming/twice.json', '{"n":2}');
  await pipeline.waitForIdle();
  await pipeline.deliver(pipeline.executions()[0].event);
  await pipeline.waitForIdle();

  expect(pipeline.executions().map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect(await keysUnder(pipeline, 'processed/')).toEqual(['processed/incoming/twice.json.json']);
});

test('events that do not match the rule start nothing', async () => {
  const pipeline = (used.pipeline = await startTestPipeline(templatePath));
  await pipeline.upload('elsewhere/file.txt', 'outside the input prefix');
  const started = await pipeline.deliver({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'some-other-bucket' }, object: { key: 'incoming/x.txt', size: 1 } },
  });
  await pipeline.waitForIdle();
  expect(started).toBeUndefined();
  expect(pipeline.executions()).toEqual([]);
});

test.each([
  ['throttling', 'ECS.AmazonECSException'],
  ['capacity', 'AmazonECS.Unknown'],
] as const)(
  'injected %s errors are retried by the state machine, then the task runs',
  async (kind, error) => {
    const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
      faults: { launchErrors: { kind, count: 3 } },
    }));
    await pipeline.upload('incoming/retried.txt', 'try again');
    await pipeline.waitForIdle();

    const [execution] = pipeline.executions();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.attempts.map((a) => [a.stateName, a.error])).toEqual([
      ['RunWorker', error],
      ['RunWorker', error],
      ['RunWorker', error],
      ['RunWorker', undefined],
    ]);
    expect(await pipeline.readResult(execution)).toMatchObject({ sha256: sha256('try again') });
  },
);

test('launch errors beyond MaxAttempts fail the execution through the Fail state', async () => {
  // -c capacityWaitMinutes=1: MaxAttempts 5, so the first run and 5 retries fail, and the error reaches
  // Catch -> ObjectFailed.
  const shortWait = await synthesizedTemplate({ capacityWaitMinutes: '1' });
  const pipeline = (used.pipeline = await startTestPipeline(shortWait, {
    faults: { launchErrors: { kind: 'throttling', count: 6 } },
  }));
  await pipeline.upload('incoming/never.txt', 'x');
  await pipeline.waitForIdle();

  const [execution] = pipeline.executions();
  expect(execution.attempts).toHaveLength(6);
  expect(execution.status).toBe('FAILED');
  expect(execution.error).toBe('ECS.AmazonECSException');
  expect(execution.cause).toMatch(
    /^Processing s3:\/\/local-pipeline-bucket\/incoming\/never\.txt failed: Rate exceeded/,
  );
});

test('a burst of 200 objects gives 200 results', async () => {
  // A 2-vCPU account: at most 8 tasks at once (what a 2-core machine runs well); the rest wait in the
  // launch retries, on a clock 250 times real time (the CLI's 100 would cap them at 3 s, not 1.2 s).
  // The wait in line is the longest the config allows: 7 days, 40 min at this speed.
  const longWait = await synthesizedTemplate({ capacityWaitMinutes: '10080' });
  const pipeline = (used.pipeline = await startTestPipeline(longWait, {
    fargateVcpuQuota: 2,
    clock: new RealClock(250),
  }));
  const keys = Array.from(
    { length: 200 },
    (_, i) => `incoming/burst/object-${String(i).padStart(3, '0')}.txt`,
  );
  await Promise.all(keys.map((key) => pipeline!.upload(key, `body of ${key}\n`)));
  await pipeline.waitForIdle();

  const executions = pipeline.executions();
  expect(executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(200);
  // Every worker said it processed its object (a missing result below is then the emulator's).
  const unprocessed = executions.filter((e) => e.attempts.at(-1)?.summary?.outcome !== 'processed');
  expect(unprocessed.map((e) => ({ key: e.key, attempts: e.attempts }))).toEqual([]);
  expect(executions.map((e) => e.key).sort()).toEqual(keys);
  expect(await keysUnder(pipeline, 'processed/')).toEqual(keys.map((k) => `processed/${k}.json`));
  expect(pipeline.peakRunningTasks()).toBeLessThanOrEqual(8);
});

test("a worker's result is found by its contract (OUTPUT_BUCKET, OUTPUT_PREFIX + KEY + .json), not its log lines", async () => {
  // Another worker: writes its result where the contract says, and logs a summary that points elsewhere.
  const worker = `
    const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
    const env = process.env;
    const s3 = new S3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true });
    console.log(JSON.stringify({ summary: true, resultBucket: 'not-this-bucket', resultKey: 'not/this.json' }));
    s3.send(new PutObjectCommand({
      Bucket: env.OUTPUT_BUCKET,
      Key: env.OUTPUT_PREFIX + env.KEY + '.json',
      Body: JSON.stringify({ by: 'another worker', key: env.KEY }),
    })).then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });`;
  const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
    workerCommand: [process.execPath, '-e', worker],
  }));
  await pipeline.upload('incoming/other worker.txt', 'any language');
  await pipeline.waitForIdle();

  const [execution] = pipeline.executions();
  expect(execution.status).toBe('SUCCEEDED');
  expect(execution.result).toEqual({
    bucket: pipeline.bucket,
    key: 'processed/incoming/other worker.txt.json',
  });
  expect(await pipeline.readResult(execution)).toEqual({
    by: 'another worker',
    key: 'incoming/other worker.txt',
  });
});
