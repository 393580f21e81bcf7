import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import {
  localS3Client,
  localS3Environment,
  type LocalS3Server,
  startLocalS3Server,
} from '../../local/s3/server';
import { PROJECT_ROOT } from '../../shared/paths';
import {
  assertBundleIsFresh,
  putFile,
  runBundledWorker,
  type WorkerRun,
  writePseudoRandomFile,
} from './fixtures';

const BUCKET = 'input-bucket';
const LARGE_SIZE = 64 * 1024 * 1024;
const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

let dir: string;
let s3: LocalS3Server;
let client: S3Client;
let large: { key: string; sha256: string; etag: string };

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const bare = (etag: string) => etag.replace(/"/g, '');

function worker(env: Record<string, string>, endpoint = s3.endpoint): Promise<WorkerRun> {
  return runBundledWorker({ ...localS3Environment(endpoint), ...env });
}

async function put(key: string, body: string | Buffer, contentType?: string): Promise<string> {
  const response = await client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: key,
      Body: body,
      ContentType: contentType,
      ContentLength: Buffer.byteLength(body),
    }),
  );
  return bare(response.ETag ?? '');
}

async function readResult(key: string, bucket = BUCKET): Promise<Record<string, unknown>> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `processed/${key}.json` }));
  expect(response.ContentType).toBe('application/json');
  return JSON.parse(await response.Body!.transformToString()) as Record<string, unknown>;
}

async function resultKeys(key: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `processed/${key}` }));
  return (listed.Contents ?? []).map((object) => object.Key ?? '');
}

function summaryOf(run: WorkerRun): Record<string, unknown> {
  const summaries = run.logs.filter((line) => line.summary === true);
  expect(summaries).toHaveLength(1);
  expect(run.logs.at(-1)).toBe(summaries[0]);
  return summaries[0];
}

beforeAll(async () => {
  assertBundleIsFresh();
  dir = mkdtempSync(join(tmpdir(), 'worker-test-'));
  s3 = await startLocalS3Server({ directory: join(dir, 's3'), buckets: [BUCKET] });
  client = localS3Client(s3.endpoint);
  const file = join(dir, 'large.bin');
  const largeSha = await writePseudoRandomFile(file, LARGE_SIZE);
  large = { key: 'large/random 64MiB.bin', sha256: largeSha, etag: '' };
  large.etag = bare(await putFile(client, BUCKET, large.key, file));
  rmSync(file);
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('processes the object and writes its manifest', () => {
  test.each([
    'incoming/with spaces/a b.txt',
    'incoming/plus+sign.txt',
    'incoming/percent%2Bencoded.txt',
    'incoming/key=value&x=1.txt',
    'incoming/parens (1).txt',
    'incoming/日本語/Ελληνικά/файл ✓.txt',
  ])('key %j is used exactly as given', async (key) => {
    const body = `first line of ${key}\r\nsecond\n`;
    const etag = await put(key, body);
    const run = await worker({ BUCKET, KEY: key, ETAG: etag });
    expect(run.code).toBe(0);
    const result = await readResult(key);
    expect(result).toEqual({
      bucket: BUCKET,
      key,
      versionId: null,
      etag,
      size: Buffer.byteLength(body),
      sha256: sha256(body),
      contentType: 'text/plain; charset=utf-8',
      lines: 2,
      processor: 'manifest',
      workerVersion: version,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      durationMs: expect.any(Number),
    });
    expect(summaryOf(run)).toMatchObject({
      level: 'info',
      outcome: 'processed',
      exitCode: 0,
      bucket: BUCKET,
      key,
    });
  });

  test('a zero-byte object', async () => {
    const etag = await put('empty/zero.txt', '');
    const run = await worker({ BUCKET, KEY: 'empty/zero.txt' });
    expect(run.code).toBe(0);
    expect(await readResult('empty/zero.txt')).toMatchObject({
      etag,
      size: 0,
      sha256: sha256(''),
      lines: 0,
      contentType: 'application/octet-stream',
    });
  });

  test('binary content is sniffed from its first bytes by file-type, beating a wrong stored type', async () => {
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
        '1f15c4890000000d4944415478da63f8cf00000301010018dd8db40000000049454e44ae426082',
      'hex',
    );
    await put('images/pixel.dat', png, 'text/plain');
    const run = await worker({ BUCKET, KEY: 'images/pixel.dat' });
    expect(run.code).toBe(0);
    expect(await readResult('images/pixel.dat')).toMatchObject({
      size: png.length,
      sha256: sha256(png),
      contentType: 'image/png',
      lines: null,
    });
  });

  test('a 64 MiB object, streamed, matches Node crypto over the same bytes', async () => {
    const run = await worker({ BUCKET, KEY: large.key, ETAG: large.etag, OUTPUT_BUCKET: BUCKET });
    expect(run.code).toBe(0);
    expect(await readResult(large.key)).toMatchObject({
      size: LARGE_SIZE,
      sha256: large.sha256,
      etag: large.etag,
      contentType: 'application/octet-stream',
      lines: null,
    });
    expect(summaryOf(run)).toMatchObject({ bytes: LARGE_SIZE, result: { sha256: large.sha256 } });
  });

  test('is idempotent per version, and a new version of the key replaces the result', async () => {
    const key = 'incoming/versions.txt';
    await put(key, 'version one\n');
    expect((await worker({ BUCKET, KEY: key })).code).toBe(0);
    const first = await readResult(key);
    expect((await worker({ BUCKET, KEY: key })).code).toBe(0);
    const second = await readResult(key);
    expect(second.sha256).toBe(first.sha256);
    expect(second.startedAt).not.toBe(first.startedAt);
    expect(await resultKeys(key)).toEqual([`processed/${key}.json`]);

    const etag = await put(key, 'version two\n');
    expect((await worker({ BUCKET, KEY: key, ETAG: `"${etag}"` })).code).toBe(0);
    expect(await readResult(key)).toMatchObject({ sha256: sha256('version two\n'), etag });
  });
});

describe('exits 0 without a result when there is nothing (left) to do', () => {
  test('a missing object (404)', async () => {
    const run = await worker({ BUCKET, KEY: 'incoming/never uploaded.txt' });
    expect(run.code).toBe(0);
    expect(summaryOf(run)).toMatchObject({ outcome: 'not-found', message: expect.stringContaining('404') });
    expect(await resultKeys('incoming/never uploaded.txt')).toEqual([]);
  });

  test('a superseded ETag: the key was overwritten after the event', async () => {
    const key = 'incoming/overwritten.txt';
    const oldEtag = await put(key, 'old content\n');
    const newEtag = await put(key, 'new content\n');
    const run = await worker({ BUCKET, KEY: key, ETAG: oldEtag });
    expect(run.code).toBe(0);
    expect(summaryOf(run)).toMatchObject({ outcome: 'superseded', etag: oldEtag, currentEtag: newEtag });
    expect(await resultKeys(key)).toEqual([]);
  });

  test('a key inside the output prefix (a result of an earlier run) is skipped, not re-processed', async () => {
    await put('processed/loop.txt', 'x');
    const run = await worker({ BUCKET, KEY: 'processed/loop.txt' });
    expect(run.code).toBe(0);
    expect(summaryOf(run)).toMatchObject({ outcome: 'skipped', level: 'warn' });
    expect(await resultKeys('processed/loop.txt')).toEqual([]);
  });
});

describe('fails without a result', () => {
  test('missing BUCKET: exit 2, and the message names the variable and the fix', async () => {
    const run = await worker({ KEY: 'incoming/plus+sign.txt' });
    expect(run.code).toBe(2);
    expect(summaryOf(run)).toMatchObject({
      level: 'error',
      outcome: 'config-error',
      variable: 'BUCKET',
      message: expect.stringMatching(/^BUCKET is not set: .*set BUCKET to the bucket name/),
    });
  });

  test('an unknown PROCESSOR: exit 2', async () => {
    const run = await worker({ BUCKET, KEY: 'incoming/plus+sign.txt', PROCESSOR: 'nope' });
    expect(run.code).toBe(2);
    expect(summaryOf(run)).toMatchObject({
      variable: 'PROCESSOR',
      message: expect.stringContaining('manifest'),
    });
  });

  test('an output write that fails: exit 1 with the error logged, no result anywhere', async () => {
    const key = 'incoming/unwritable.txt';
    await put(key, 'data\n');
    const run = await worker({ BUCKET, KEY: key, OUTPUT_BUCKET: 'no-such-output-bucket' });
    expect(run.code).toBe(1);
    expect(summaryOf(run)).toMatchObject({
      level: 'error',
      outcome: 'failed',
      errorName: 'NoSuchBucket',
      bytes: 5,
    });
    expect(await resultKeys(key)).toEqual([]);
  });
});

/**
 * A proxy in front of s3rver that forwards the first `stallAfter` bytes of a GET body and then stalls,
 * so that SIGTERM reliably arrives mid-stream, however fast the machine.
 */
async function startStallingProxy(target: string, stallAfter: number) {
  let onStalled!: () => void;
  const stalled = new Promise<void>((resolve) => (onStalled = resolve));
  const server: Server = createServer((incoming, outgoing) => {
    const upstream = request(
      `${target}${incoming.url}`,
      { method: incoming.method, headers: incoming.headers },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        let forwarded = 0;
        response.on('data', (chunk: Buffer) => {
          if (forwarded >= stallAfter) return onStalled();
          forwarded += chunk.length;
          outgoing.write(chunk);
        });
        response.on('end', () => outgoing.end());
      },
    );
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stalled,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

test('SIGTERM mid-stream aborts the read, exits 143 promptly and leaves no result', async () => {
  const proxy = await startStallingProxy(s3.endpoint, 1024 * 1024);
  try {
    let kill!: (signal: NodeJS.Signals) => void;
    const running = runBundledWorker(
      { ...localS3Environment(proxy.endpoint), BUCKET, KEY: large.key, OUTPUT_PREFIX: 'terminated/' },
      { onSpawn: (k) => (kill = k) },
    );
    await proxy.stalled;
    const signalledAt = Date.now();
    kill('SIGTERM');
    const run = await running;
    expect(Date.now() - signalledAt).toBeLessThan(1_500);
    expect(run.code).toBe(143);
    expect(run.logs.map((line) => line.message)).toContain('received SIGTERM; aborting the S3 request');
    expect(summaryOf(run)).toMatchObject({ level: 'warn', outcome: 'terminated', exitCode: 143 });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'terminated/' }));
    expect(listed.Contents ?? []).toEqual([]);
  } finally {
    await proxy.close();
  }
});
