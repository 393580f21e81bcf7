import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { lock } from 'proper-lockfile';

import { UsageError } from './args';

/** The lock's name inside the data directory: a directory proper-lockfile makes and removes. */
const LOCK_NAME = 'in-use.lock';
/**
 * A lock whose time has not been refreshed for this long belongs to a run that was killed (SIGKILL
 * leaves it behind); proper-lockfile refreshes a live one every half of it.
 */
const STALE_MS = 10_000;

/**
 * Holds `dataDir` for this run until the process exits: one `npm start` per data directory. Its S3
 * files, tables and journal are one run's; a second run on them rewrote the first one's cdk.out,
 * then crashed in dynalite (whose LevelDB takes a lock of its own) with a stack trace. proper-lockfile
 * (its lock a directory, atomic to make; released on exit, even by process.exit) does the locking.
 *
 * @param shownAs how the user named the directory, for the message
 * @param onLost told when the lock stopped being this run's (the machine slept past STALE_MS)
 */
export async function holdDataDirectory(
  dataDir: string,
  shownAs: string,
  onLost: (message: string) => void,
): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  try {
    await lock(dataDir, {
      lockfilePath: join(dataDir, LOCK_NAME),
      realpath: false,
      stale: STALE_MS,
      onCompromised: (error) =>
        onLost(
          `warning: the data directory ${shownAs} (--data-dir) is no longer held by this run ` +
            `(${error.message}): another npm start may use it now`,
        ),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new UsageError(
      `the data directory ${shownAs} (--data-dir) is in use by another npm start: stop that one, ` +
        'point the AWS commands at its endpoint (AWS_ENDPOINT_URL), or pass --data-dir <another directory>',
    );
  }
}
