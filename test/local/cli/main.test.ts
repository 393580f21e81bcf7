import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../../../shared/paths';
import { runCli, runCliOnce } from '../support/cli';
import { sha256 } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/** The CLI as a user runs it (`npm start -- ...` is `node --import tsx local/cli/main.ts ...`), as a child process. */

let templatePath: string;
let dataDir: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  dataDir = mkdtempSync(join(tmpdir(), 'local-cli-test-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('npm start -- --json samples/ processes every sample and prints one JSON summary', async () => {
  const { code, stdout } = await runCliOnce(templatePath, dataDir, ['samples/']);

  const summary = JSON.parse(stdout) as { executions: Array<Record<string, unknown>> };
  const samples = [
    'data.csv',
    'gradient.png',
    'greeting-unicode.txt',
    'order.json',
    'report 2024 + notes.txt',
  ];
  expect(summary.executions.map((e) => e.key).sort()).toEqual(samples.map((name) => `incoming/${name}`));
  for (const execution of summary.executions) {
    const file = join(PROJECT_ROOT, 'samples', String(execution.key).replace('incoming/', ''));
    expect(execution).toMatchObject({ status: 'SUCCEEDED', error: null, cause: null });
    expect(execution.launchAttempts).toBeGreaterThanOrEqual(1);
    expect(execution.result).toMatchObject({ key: execution.key, sha256: sha256(readFileSync(file)) });
  }
  expect(code).toBe(0);
});

test.each([
  [['--frobnicate'], /^error: Unknown option '--frobnicate'/],
  [['no/such/file.txt'], /^error: no\/such\/file\.txt: no such file or directory/],
  [
    ['--concurrency', '4'],
    /^error: --concurrency is gone: executions start as on AWS, .* use --fargate-vcpu-quota <n> \(and --fargate-spot-vcpu-quota <n>\)/,
  ],
  [
    ['--fargate-vcpu-quota', 'lots'],
    /^error: --fargate-vcpu-quota "lots" is not valid: use a number of vCPU of at least 0/,
  ],
  [['--fargate-spot-vcpu-quota=-1'], /^error: --fargate-spot-vcpu-quota "-1" is not valid/],
  [['--inject-launch-errors', 'meteor:2'], /^error: --inject-launch-errors "meteor:2" is not valid/],
])('bad arguments %j give a one-line error and exit 2', async (args, message) => {
  const { code, stderr } = await runCli(['--template', templatePath, ...args]);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
});
