import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand } from '@aws-sdk/client-s3';

import { localS3Client, type LocalS3Server, startLocalS3Server } from '../../local/s3/server';
import { readResult, resultLocationFor, writtenResult } from '../../local/worker-contract';

/** The result lookup by the worker's contract, against a real S3 API on loopback (s3rver). */

const environment = { KEY: 'incoming/a b+c.csv', OUTPUT_BUCKET: 'results', OUTPUT_PREFIX: 'processed/' };
let directory: string;
let server: LocalS3Server;
let refuseEverything = false;
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'worker-contract-'));
  server = await startLocalS3Server({
    directory,
    buckets: ['results'],
    authorize: async () => (refuseEverything ? 'refused for the test' : undefined),
  });
});
afterAll(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

test('the result is OUTPUT_PREFIX + KEY + ".json" in OUTPUT_BUCKET, the key as the task got it', () => {
  expect(resultLocationFor(environment)).toEqual({
    bucket: 'results',
    key: 'processed/incoming/a b+c.csv.json',
  });
  expect(resultLocationFor({ KEY: 'k', OUTPUT_BUCKET: 'results' })).toBeUndefined();
});

test('a result that is there is found; one that is not (a skipped object) is no result', async () => {
  const s3 = localS3Client(server.endpoint);
  await expect(writtenResult(s3, environment)).resolves.toBeUndefined();
  await s3.send(
    new PutObjectCommand({ Bucket: 'results', Key: 'processed/incoming/a b+c.csv.json', Body: '{}' }),
  );
  await expect(writtenResult(s3, environment)).resolves.toEqual({
    bucket: 'results',
    key: 'processed/incoming/a b+c.csv.json',
  });
});

test('any other failure of the lookup is raised, naming the result, not reported as "no result"', async () => {
  refuseEverything = true;
  try {
    await expect(writtenResult(localS3Client(server.endpoint), environment)).rejects.toThrow(
      /^Looking up the result s3:\/\/results\/processed\/incoming\/a b\+c\.csv\.json failed \(HTTP 403\): /,
    );
  } finally {
    refuseEverything = false;
  }
});

test('readResult gives the JSON a worker wrote, null for none, and names a result that is not JSON', async () => {
  const s3 = localS3Client(server.endpoint);
  const written = { bucket: 'results', key: 'processed/written.json' };
  await expect(readResult(s3, undefined)).resolves.toBeNull();
  await expect(readResult(s3, written)).resolves.toBeNull();
  await s3.send(new PutObjectCommand({ Bucket: 'results', Key: written.key, Body: '{"sha256":"ab"}' }));
  await expect(readResult(s3, written)).resolves.toEqual({ sha256: 'ab' });
  await s3.send(new PutObjectCommand({ Bucket: 'results', Key: written.key, Body: 'done' }));
  await expect(readResult(s3, written)).rejects.toThrow(
    'The result s3://results/processed/written.json is not JSON: a worker writes one JSON object there',
  );
  refuseEverything = true;
  try {
    await expect(readResult(s3, written)).rejects.toThrow(
      /^Looking up the result s3:\/\/results\/processed\/written\.json failed \(HTTP 403\): AccessDenied/,
    );
  } finally {
    refuseEverything = false;
  }
});
