import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../../../shared/paths';
import { npmScript } from '../../support/project-commands';
import { runCli } from '../support/cli';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * One `npm start` per data directory, as real processes: a second run on a directory a running one
 * holds is refused in one line (it crashed in dynalite's LevelDB lock, with a stack trace), and
 * leaves the first running; once the first has stopped, the directory is free again.
 */

let root: string;
let running: ChildProcess | undefined;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'local-cli-lock-'));
});
afterEach(() => {
  // A failed test leaves nothing running.
  if (running?.exitCode === null) running.kill('SIGKILL');
  running = undefined;
  rmSync(root, { recursive: true, force: true });
});

test('a second npm start on a data directory in use is refused with exit 2; the first goes on', async () => {
  const templatePath = await synthesizedTemplate();
  const data = join(root, 'data');
  const common = ['--template', templatePath, '--port', '0', '--data-dir', data];
  // The first run watches until Ctrl-C.
  const first = (running = spawn(...npmScript('start', common), { cwd: PROJECT_ROOT }));
  let stdout = '';
  let stderr = '';
  first.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  first.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => first.once('close', resolve));
  while (!stdout.includes('Local AWS endpoint:')) {
    if (first.exitCode !== null) throw new Error(`the first npm start exited ${first.exitCode}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const endpoint = /Local AWS endpoint: (\S+)/.exec(stdout)![1];

  const uploads = join(root, 'uploads');
  mkdirSync(uploads);
  writeFileSync(join(uploads, 'a.txt'), 'a\n');
  const second = await runCli([...common, '--json', uploads]);
  expect([second.code, second.stderr, second.stdout]).toEqual([
    2,
    `error: the data directory ${data} (--data-dir) is in use by another npm start: stop that one, ` +
      'point the AWS commands at its endpoint (AWS_ENDPOINT_URL), or pass --data-dir <another directory>\n',
    '',
  ]);
  // The first run still answers on its endpoint (an unsigned request: S3's AccessDenied).
  expect((await fetch(`${endpoint}/`)).status).toBe(403);

  first.kill('SIGINT');
  expect(await exited).toBe(130); // Ctrl-C's exit code
  expect(existsSync(join(data, 'in-use.lock'))).toBe(false);
  // Free again: a run on it processes its file.
  const third = await runCli([...common, '--json', uploads]);
  expect(third.code).toBe(0);
  expect(JSON.parse(third.stdout)).toMatchObject({
    executions: [{ key: 'incoming/a.txt', status: 'SUCCEEDED' }],
  });
});
