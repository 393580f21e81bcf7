import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { PROJECT_ROOT, WORKER_BUNDLE } from '../../local/synth';

const SOURCES = join(PROJECT_ROOT, 'container', 'src');

/** Fails with the fix when the bundle is missing or older than its sources (it is what the image ships). */
export function assertBundleIsFresh(): void {
  if (!existsSync(WORKER_BUNDLE)) {
    throw new Error(`${WORKER_BUNDLE} does not exist: run \`npm run build\` (npm test runs it first)`);
  }
  const built = statSync(WORKER_BUNDLE).mtimeMs;
  const stale = readdirSync(SOURCES, { recursive: true, encoding: 'utf8' }).filter(
    (file) => statSync(join(SOURCES, file)).mtimeMs > built,
  );
  if (stale.length > 0) {
    throw new Error(`${WORKER_BUNDLE} is older than container/src/${stale[0]}: run \`npm run build\``);
  }
}

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

export interface WorkerRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout, one parsed JSON object per line. */
  readonly logs: Record<string, unknown>[];
  readonly stderr: string;
}

/**
 * Runs the bundle as the container does. Asynchronous on purpose: s3rver runs in the calling process,
 * so a synchronous spawn would deadlock. The environment is built from scratch so that AWS settings of
 * the machine running the tests cannot leak in.
 */
export function runBundledWorker(
  env: Record<string, string>,
  options: { nodeArgs?: readonly string[]; onSpawn?: (kill: (signal: NodeJS.Signals) => void) => void } = {},
): Promise<WorkerRun> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), WORKER_BUNDLE], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  options.onSpawn?.((signal) => child.kill(signal));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stderr,
        logs: stdout
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Record<string, unknown>),
      }),
    );
  });
}
