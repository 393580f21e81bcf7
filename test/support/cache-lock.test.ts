import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../../shared/paths';
import { withCacheLockSync } from './cache-lock';

/** Another process (another jest worker) fills the entry; this one waits for it instead of filling it too. */
test('a second filler waits for the first, then finds its entry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-lock-'));
  try {
    const entry = join(dir, 'entry.txt');
    const filler = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { appendFileSync } = require('node:fs');
         const { withCacheLock } = require('./test/support/cache-lock');
         withCacheLock(${JSON.stringify(entry)}, async () => {
           appendFileSync(${JSON.stringify(entry)}, 'started ');
           await new Promise((resolve) => setTimeout(resolve, 1500));
           appendFileSync(${JSON.stringify(entry)}, 'filled');
         });`,
      ],
      { cwd: PROJECT_ROOT, stdio: 'inherit' },
    );
    const exited = new Promise((resolve) => filler.once('exit', resolve));
    while (!existsSync(entry)) await new Promise((resolve) => setTimeout(resolve, 20));

    const seen = withCacheLockSync(entry, () => readFileSync(entry, 'utf8'));

    expect(seen).toBe('started filled');
    expect(await exited).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
