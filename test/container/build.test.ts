import { execFile } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT, WORKER_BUNDLE } from '../../shared/paths';
import { npmScript } from '../support/project-commands';

test('a build replaces the worker bundle whole: a task that opened the old one reads all of it', async () => {
  // `cdk synth` runs this build while local tasks start `node container/dist/worker.js` (npm test does
  // both at once). Written in place, a task starting meanwhile read an empty file and exited 0 having
  // done nothing: an execution SUCCEEDED without a result.
  const old = readFileSync(WORKER_BUNDLE);
  const { ino } = statSync(WORKER_BUNDLE);
  const opened = openSync(WORKER_BUNDLE, 'r');
  try {
    await promisify(execFile)(...npmScript('build'), { cwd: PROJECT_ROOT });

    // A new file took the name; the one the task holds was not truncated.
    expect(statSync(WORKER_BUNDLE).ino).not.toBe(ino);
    const held = Buffer.alloc(old.length + 1);
    expect(readSync(opened, held, 0, held.length, 0)).toBe(old.length);
    expect(held.subarray(0, old.length).equals(old)).toBe(true);
  } finally {
    closeSync(opened);
  }
  // npm test built from the same sources: the same bytes (so the same CDK asset hash), and nothing
  // is left beside them.
  expect(readFileSync(WORKER_BUNDLE).equals(old)).toBe(true);
  expect(readdirSync(join(PROJECT_ROOT, 'container', 'dist'))).toEqual(['worker.js']);
});
