import { lock, lockSync } from 'proper-lockfile';

/**
 * One jest worker at a time fills a cache entry that several test files need (the synthesized
 * templates): without it, two workers that miss the cache at once both synthesize, each taking a
 * core for the same minute. The first takes the lock and fills the entry; the others wait, then
 * find it filled. proper-lockfile's lock is a directory beside `path`, removed when its process
 * exits. A synchronous filler blocks the event loop, so the lock cannot refresh itself while it
 * works: `stale` is longer than any synthesis.
 */

const STALE_MS = 10 * 60_000;
const POLL_MS = 250;

/** Runs `fill` holding the lock on `path` (which need not exist), waiting for another holder first. */
export function withCacheLockSync<T>(path: string, fill: () => T): T {
  let release: () => void;
  for (;;) {
    try {
      release = lockSync(path, { realpath: false, stale: STALE_MS });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, POLL_MS);
    }
  }
  try {
    return fill();
  } finally {
    release();
  }
}

/** The same for an asynchronous `fill`. */
export async function withCacheLock<T>(path: string, fill: () => Promise<T>): Promise<T> {
  const release = await lock(path, {
    realpath: false,
    stale: STALE_MS,
    retries: { retries: Math.ceil(STALE_MS / POLL_MS), factor: 1, minTimeout: POLL_MS, maxTimeout: POLL_MS },
  });
  try {
    return await fill();
  } finally {
    await release();
  }
}
