import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** Test data for the worker: used by its tests (test/container) and by the bench. */

/**
 * Writes `size` deterministic pseudo-random bytes (an AES-CTR keystream: fast, and incompressible so no
 * layer can cheat) and returns their SHA-256, computed with Node's own crypto as the reference.
 */
export async function writePseudoRandomFile(
  path: string,
  size: number,
  seed = 'worker-test',
): Promise<string> {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < size;) {
      const block = cipher.update(zeros.subarray(0, Math.min(zeros.length, size - written)));
      hash.update(block);
      await file.write(block);
      written += block.length;
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** One PutObject streamed from a file: s3rver accepts it (lib-storage's Upload it does not). */
export async function putFile(client: S3Client, bucket: string, key: string, path: string): Promise<string> {
  const response = await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: createReadStream(path),
      ContentLength: statSync(path).size,
    }),
  );
  return response.ETag ?? '';
}
