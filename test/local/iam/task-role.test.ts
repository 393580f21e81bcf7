import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { releasedAfterEach, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The local pipeline enforces the task role end to end: each task runs with its own credentials,
 * and the local S3 decides each of its requests with the task role's policies and the bucket policy
 * from the synthesized template (real s3rver, real aws-local-stepfunctions, a worker process).
 */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

// A worker that keeps the contract, except where its object's name tells it to step outside: it
// reads its object, then writes its result (or, for "write-elsewhere", a file outside the output
// prefix; for "read-elsewhere", it first reads an object outside the input prefix). Any error exits 1.
const WORKER = `
  const { S3Client, GetObjectCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
  const env = process.env;
  const s3 = new S3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true });
  console.log(JSON.stringify({ accessKeyId: env.AWS_ACCESS_KEY_ID }));
  (async () => {
    const own = await s3.send(new GetObjectCommand({ Bucket: env.BUCKET, Key: env.KEY }));
    const body = await own.Body.transformToString();
    if (env.KEY.endsWith('read-elsewhere.txt')) {
      await s3.send(new GetObjectCommand({ Bucket: env.BUCKET, Key: 'elsewhere/secret.txt' }));
    }
    const key = env.KEY.endsWith('write-elsewhere.txt') ? 'elsewhere/out.json' : env.OUTPUT_PREFIX + env.KEY + '.json';
    await s3.send(new PutObjectCommand({ Bucket: env.OUTPUT_BUCKET, Key: key, Body: JSON.stringify({ body }) }));
  })().then(() => process.exit(0), (error) => {
    console.error(JSON.stringify({ error: error.name, message: error.message, status: error.$metadata?.httpStatusCode }));
    process.exit(1);
  });`;

async function pipelineWithWorker() {
  const logs: string[] = [];
  const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
    workerCommand: [process.execPath, '-e', WORKER],
    onWorkerLog: (line) => logs.push(line),
  }));
  return { pipeline, logs };
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

test('a permitted write still succeeds: the task reads its object and writes its result', async () => {
  const { pipeline } = await pipelineWithWorker();
  await pipeline.upload('incoming/allowed.txt', 'fine');
  await pipeline.waitForIdle();

  const [execution] = pipeline.executions();
  expect(execution.status).toBe('SUCCEEDED');
  expect(await pipeline.readResult(execution)).toEqual({ body: 'fine' });
});

test("a write outside the output prefix gets S3's 403 AccessDenied: the task exits 1 and the cause carries the exit code", async () => {
  const { pipeline, logs } = await pipelineWithWorker();
  await pipeline.upload('incoming/write-elsewhere.txt', 'x');
  await pipeline.waitForIdle();

  const [execution] = pipeline.executions();
  expect(execution.status).toBe('FAILED');
  expect(execution.error).toBe('States.TaskFailed');
  expect(execution.cause).toMatch(/"ExitCode":1\b/);
  const failure = JSON.parse(logs.find((line) => line.includes('"error"'))!);
  expect(failure).toMatchObject({ error: 'AccessDenied', status: 403 });
  expect(failure.message).toMatch(
    /^User: arn:aws:sts::000000000000:assumed-role\/\w*TaskRole\w*\/\w+ is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::local-pipeline-bucket\/elsewhere\/out\.json" because no policy allows the s3:PutObject action$/,
  );
  expect(await exists(pipeline.s3, pipeline.bucket, 'elsewhere/out.json')).toBe(false);
});

test('a read outside the input prefix is denied the same way, though the object is there', async () => {
  const { pipeline, logs } = await pipelineWithWorker();
  // the user's own uploads (the local S3's credentials) are not restricted: anywhere in the bucket
  await pipeline.upload('elsewhere/secret.txt', 'not for the worker');
  await pipeline.upload('incoming/read-elsewhere.txt', 'x');
  await pipeline.waitForIdle();

  const [execution] = pipeline.executions();
  expect(execution.status).toBe('FAILED');
  expect(execution.cause).toMatch(/"ExitCode":1\b/);
  const failure = JSON.parse(logs.find((line) => line.includes('"error"'))!);
  expect(failure).toMatchObject({ error: 'AccessDenied', status: 403 });
  expect(failure.message).toContain(
    's3:GetObject on resource: "arn:aws:s3:::local-pipeline-bucket/elsewhere/secret.txt"',
  );
  expect(await exists(pipeline.s3, pipeline.bucket, 'processed/incoming/read-elsewhere.txt.json')).toBe(
    false,
  );
});

test('each task has its own credentials, which stop working when it stops; unsigned requests are refused', async () => {
  const { pipeline, logs } = await pipelineWithWorker();
  await pipeline.upload('incoming/one.txt', '1');
  await pipeline.upload('incoming/two.txt', '2');
  await pipeline.waitForIdle();
  expect(pipeline.executions().map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);

  const keys = logs
    .filter((line) => line.includes('accessKeyId'))
    .map((line) => JSON.parse(line).accessKeyId);
  expect(keys).toHaveLength(2);
  expect(new Set(keys).size).toBe(2);
  expect(keys.every((key) => /^ASIA[0-9A-F]{16}$/.test(key))).toBe(true);

  const stale = new S3Client({
    region: 'us-east-1',
    endpoint: pipeline.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: keys[0], secretAccessKey: 'whatever' },
  });
  await expect(
    stale.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: 'incoming/one.txt' })),
  ).rejects.toThrow(expect.objectContaining({ name: 'InvalidAccessKeyId' }));
  stale.destroy();

  const unsigned = await fetch(`${pipeline.endpoint}/${pipeline.bucket}/incoming/one.txt`);
  expect(unsigned.status).toBe(403);
  expect(await unsigned.text()).toMatch(
    /<Code>AccessDenied<\/Code><Message>User: anonymous is not authorized to perform: s3:GetObject/,
  );
});

test('your own upload under a customer managed KMS key is refused by the bucket policy, as on AWS', async () => {
  const { pipeline } = await pipelineWithWorker();
  const upload = pipeline.s3.send(
    new PutObjectCommand({
      Bucket: pipeline.bucket,
      Key: 'incoming/secret.csv',
      Body: 'x',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    }),
  );
  await expect(upload).rejects.toThrow(
    expect.objectContaining({
      name: 'AccessDenied',
      message: expect.stringContaining(
        's3:PutObject on resource: "arn:aws:s3:::local-pipeline-bucket/incoming/secret.csv" with an explicit deny',
      ),
    }),
  );
  await pipeline.waitForIdle();
  expect(pipeline.executions()).toEqual([]);
});
