import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketCorsCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';

import { localS3Client, type LocalS3Server, startLocalS3Server } from '../../../local/s3/server';

/** The local S3 server through the real SDK over loopback: what a reader sees while objects are written and copied. */

const BUCKET = 'bucket';
const MiB = 1024 * 1024;

let directory: string;
let server: LocalS3Server;
let s3: S3Client;
beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'local-s3-test-'));
  server = await startLocalS3Server({ directory, buckets: [BUCKET] });
  s3 = localS3Client(server.endpoint);
});
afterEach(async () => {
  s3.destroy();
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

const sha256 = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

/** `size` bytes of `byte`, sent in 64 KiB chunks one event-loop turn apart, so reads run while it is written. */
function slowBody(byte: number, size: number): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < size; sent += 64 * 1024) {
        await new Promise((resolve) => setImmediate(resolve));
        yield Buffer.alloc(Math.min(64 * 1024, size - sent), byte);
      }
    })(),
  );
}

/** Reads `key` whole until `writing` settles: each read's length and SHA-256, or the error code. */
async function readWhile(key: string, writing: Promise<unknown>): Promise<string[]> {
  let done = false;
  void writing.finally(() => (done = true));
  const seen: string[] = [];
  while (!done) {
    try {
      const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const body = await response.Body!.transformToByteArray();
      seen.push(`${body.length} ${sha256(body)} ${response.ETag}`);
    } catch (error) {
      seen.push((error as S3ServiceException).name);
    }
  }
  await writing;
  return seen;
}

describe('writes are atomic, as in S3', () => {
  test('a new object is absent or whole while it is written, never empty or partial', async () => {
    // WHEN 2 MiB are written slowly while a reader polls the key
    const writing = s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'in/new.bin',
        Body: slowBody(0x61, 2 * MiB),
        ContentLength: 2 * MiB,
      }),
    );
    const seen = await readWhile('in/new.bin', writing);

    // THEN every read was a 404 or the whole object, with its own ETag
    const whole = `${2 * MiB} ${sha256(Buffer.alloc(2 * MiB, 0x61))} "${createHash('md5')
      .update(Buffer.alloc(2 * MiB, 0x61))
      .digest('hex')}"`;
    expect(seen.length).toBeGreaterThan(1);
    expect(new Set(seen)).toEqual(new Set(seen.filter((s) => s === 'NoSuchKey' || s === whole)));
    expect(seen).toContain('NoSuchKey');
  });

  test('an overwritten object is the old or the new one while it is written, never a mix or a 404', async () => {
    // GIVEN an object of 1 MiB
    const old = Buffer.alloc(MiB, 0x6f);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/a.bin', Body: old }));

    // WHEN 2 MiB are written over it slowly while a reader polls it
    const writing = s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'in/a.bin',
        Body: slowBody(0x6e, 2 * MiB),
        ContentLength: 2 * MiB,
      }),
    );
    const seen = await readWhile('in/a.bin', writing);

    // THEN each read was the old object with the old ETag, or (at the end) the new one with the new ETag
    const md5 = (body: Buffer) => createHash('md5').update(body).digest('hex');
    const before = `${MiB} ${sha256(old)} "${md5(old)}"`;
    const after = `${2 * MiB} ${sha256(Buffer.alloc(2 * MiB, 0x6e))} "${md5(Buffer.alloc(2 * MiB, 0x6e))}"`;
    expect(seen.filter((s) => s !== before && s !== after)).toEqual([]);
    expect(seen[0]).toBe(before);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'in/a.bin' }));
    expect([head.ContentLength, head.ETag]).toEqual([2 * MiB, `"${md5(Buffer.alloc(2 * MiB, 0x6e))}"`]);
  });
});

describe('UploadPartCopy', () => {
  test('a 20 MiB object copied in parts, as the AWS CLI copies it, arrives byte for byte', async () => {
    // GIVEN a 20 MiB object of varied bytes
    const source = Buffer.alloc(20 * MiB);
    for (let i = 0; i < source.length; i += 4) source.writeUInt32LE(i, i);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/big.bin', Body: source }));

    // WHEN it is copied in three ranges of a multipart upload (8 MiB, 8 MiB, the rest)
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'copy/big.bin' }),
    );
    const parts = [];
    for (const [number, first, last] of [
      [1, 0, 8 * MiB - 1],
      [2, 8 * MiB, 16 * MiB - 1],
      [3, 16 * MiB, 20 * MiB - 1],
    ]) {
      const { CopyPartResult } = await s3.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: 'copy/big.bin',
          UploadId,
          PartNumber: number,
          CopySource: `${BUCKET}/in/big.bin`,
          CopySourceRange: `bytes=${first}-${last}`,
        }),
      );
      parts.push({ PartNumber: number, ETag: CopyPartResult?.ETag });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'copy/big.bin',
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );

    // THEN the copy is the source
    const copy = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'copy/big.bin' }));
    expect(sha256(await copy.Body!.transformToByteArray())).toBe(sha256(source));
    expect(parts.map((p) => p.ETag)).toEqual([
      `"${createHash('md5')
        .update(source.subarray(0, 8 * MiB))
        .digest('hex')}"`,
      `"${createHash('md5')
        .update(source.subarray(8 * MiB, 16 * MiB))
        .digest('hex')}"`,
      `"${createHash('md5')
        .update(source.subarray(16 * MiB))
        .digest('hex')}"`,
    ]);
  });

  test.each([
    ['an unknown upload', { UploadId: 'no-such-upload' }, 'NoSuchUpload', 404],
    ['a missing source', { CopySource: `${BUCKET}/in/missing.bin` }, 'NoSuchKey', 404],
  ])('%s fails as S3 fails it', async (_case, change, code, status) => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/small.txt', Body: 'small' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'copy/x' }));

    const copying = s3.send(
      new UploadPartCopyCommand({
        Bucket: BUCKET,
        Key: 'copy/x',
        UploadId,
        PartNumber: 1,
        CopySource: `${BUCKET}/in/small.txt`,
        ...change,
      }),
    );

    await expect(copying).rejects.toMatchObject({ name: code, $metadata: { httpStatusCode: status } });
  });
});

test("s3rver's request logger (koa-logger, which formats every line though none is printed) is left out", () => {
  const handlers = (app: unknown) =>
    (app as { middleware: ((...args: unknown[]) => unknown)[] }).middleware.map((handler) => handler.name);
  expect(handlers(new S3rver({ silent: true, directory }))).toContain('logger');
  expect(handlers(server.server)).not.toContain('logger');
});

test("a bucket's configuration and existence, read on every request, follow each change made through the API", async () => {
  const cors = () => s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
  await expect(cors()).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });
  await expect(cors()).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });
  const rule = { AllowedMethods: ['GET'], AllowedOrigins: ['https://example.com'] };
  await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [rule] } }));
  expect((await cors()).CORSRules).toMatchObject([rule]);
  await s3.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
  await expect(cors()).rejects.toMatchObject({ name: 'NoSuchCORSConfiguration' });

  await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
  await s3.send(new HeadBucketCommand({ Bucket: 'other' }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'other' }));
  await expect(s3.send(new HeadBucketCommand({ Bucket: 'other' }))).rejects.toMatchObject({
    name: 'NotFound',
  });
  await expect(s3.send(new PutObjectCommand({ Bucket: 'other', Key: 'a', Body: 'x' }))).rejects.toMatchObject(
    { name: 'NoSuchBucket' },
  );
});

test("an object's metadata, read on every GET and HEAD, follows each write made through the API", async () => {
  const head = (Key: string) => s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key }));
  const put = (Key: string, Body: string, color: string) =>
    s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, Metadata: { color } }));
  const md5 = (text: string) => `"${createHash('md5').update(text).digest('hex')}"`;

  await put('kept/a', 'first', 'red');
  expect(await head('kept/a')).toMatchObject({
    ETag: md5('first'),
    ContentLength: 5,
    Metadata: { color: 'red' },
  });
  await head('kept/a');
  await put('kept/a', 'second body', 'blue');
  expect(await head('kept/a')).toMatchObject({
    ETag: md5('second body'),
    ContentLength: 11,
    Metadata: { color: 'blue' },
  });
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kept/a' }));
  expect(await got.Body?.transformToString()).toBe('second body');
  expect(got.ETag).toBe(md5('second body'));

  await put('kept/b', 'other', 'green');
  await head('kept/b');
  await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'kept/b', CopySource: `${BUCKET}/kept/a` }));
  expect(await head('kept/b')).toMatchObject({ ETag: md5('second body'), Metadata: { color: 'blue' } });
  await s3.send(
    new CopyObjectCommand({
      Bucket: BUCKET,
      Key: 'kept/b',
      CopySource: `${BUCKET}/kept/a`,
      MetadataDirective: 'REPLACE',
      Metadata: { color: 'white' },
    }),
  );
  expect(await head('kept/b')).toMatchObject({ ETag: md5('second body'), Metadata: { color: 'white' } });

  await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'kept/b' }));
  await expect(head('kept/b')).rejects.toMatchObject({ name: 'NotFound' });
  await put('kept/b', 'again', 'black');
  expect(await head('kept/b')).toMatchObject({ ETag: md5('again'), Metadata: { color: 'black' } });
});
