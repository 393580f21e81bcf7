import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli, runCliOnce } from '../support/cli';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * `npm start -- --json --inject-duplicate-events <n>`, as a user runs it (a child process): the
 * summary shows each object once, with the status its record in the local DynamoDB holds, and the
 * executions the duplicate events started under it.
 */

let root: string;
let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  root = mkdtempSync(join(tmpdir(), 'records-cli-test-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Summary {
  objects: Array<Record<string, unknown> & { key: string; duplicates: string[]; executionArns: string[] }>;
  executions: Array<{ key: string; status: string; launchAttempts: number }>;
}

test('each object once, with its record status; the duplicated events show as duplicates of it', async () => {
  const files = join(root, 'files');
  const dataDir = join(root, 'data');
  mkdirSync(files);
  for (const name of ['a.txt', 'b.txt', 'c.txt']) {
    writeFileSync(join(files, name), `${name}\n`);
  }
  const { code, stdout, stderr } = await runCliOnce(templatePath, dataDir, [
    '--inject-duplicate-events',
    '2',
    files,
  ]);
  expect(stderr).toBe('');
  const summary = JSON.parse(stdout) as Summary;

  // five executions (three events, two of them twice), three tasks, three objects
  expect(summary.executions).toHaveLength(5);
  expect(summary.executions.filter((e) => e.launchAttempts > 0)).toHaveLength(3);
  expect(summary.objects.map((o) => [o.key, o.status, o.attempts, o.duplicates.length])).toEqual([
    ['incoming/a.txt', 'SUCCEEDED', 1, 1],
    ['incoming/b.txt', 'SUCCEEDED', 1, 1],
    ['incoming/c.txt', 'SUCCEEDED', 1, 0],
  ]);
  for (const object of summary.objects) {
    expect(object.resultContent).toMatchObject({ key: object.key });
    expect(object.duplicates).not.toContain(object.executionArn);
  }
  expect(code).toBe(0);
});

test('the human summary counts objects and duplicate events', async () => {
  const files = join(root, 'one');
  mkdirSync(files);
  writeFileSync(join(files, 'x.txt'), 'x\n');
  const { code, stdout } = await runCli([
    '--template',
    templatePath,
    '--port',
    '0',
    '--data-dir',
    join(root, 'data-human'),
    '--inject-duplicate-events',
    '1',
    files,
  ]);
  expect(stdout).toMatch(
    /^SUCCEEDED {2}incoming\/x\.txt {2}\d+ ms {2}-> processed\/incoming\/x\.txt\.json$/m,
  );
  expect(stdout).toMatch(
    /^DUPLICATE {2}incoming\/x\.txt {2}\d+ ms {2}held by arn:aws:states:\S+:execution:\S+$/m,
  );
  expect(stdout).toMatch(/^1 object: 1 succeeded, 0 failed; 1 duplicate event ended at once$/m);
  expect(code).toBe(0);
});

test.each([['-1'], ['two']])(
  '--inject-duplicate-events %j: one line naming the fix, exit 2',
  async (value) => {
    const { code, stdout, stderr } = await runCli(['--inject-duplicate-events', value]);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `error: --inject-duplicate-events ${JSON.stringify(value)} is not valid: use a whole number from 0 to 1000000\n`,
    );
    expect(code).toBe(2);
  },
);

test('--help lists --inject-duplicate-events', async () => {
  const { stdout } = await runCli(['--help']);
  expect(stdout).toMatch(
    /^ {2}--inject-duplicate-events <n> {2}deliver the first n "Object Created" events twice/m,
  );
});
