import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { PROJECT_ROOT, WORKER_BUNDLE } from '../../shared/paths';

// Shared with the bench, which must not import test files.
export { putFile, writePseudoRandomFile } from '../../shared/pseudo-random-file';

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
