import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli, runCliOnce } from '../support/cli';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * `npm start -- --task-command "<command>"`: a worker that is not the bundled one runs as the task's
 * container, and the summary reports it by the worker contract alone.
 */

const WORKER = join(__dirname, '..', 'support', 'contract-worker.mjs');
/** Keys that break naive encoding or decoding: spaces, "+", a literal "%2B", quotes, unicode, parentheses. */
const AWKWARD_FILES: Record<string, string> = {
  'with space.txt': 'spaces\n',
  'plus+sign %2B literal.csv': 'a,b\n1,2\n',
  'ünïcödé/日本語 ✓.txt': 'unicode path\n',
  'quote"s & (parens) #hash.txt': 'quotes\n',
};

let templatePath: string;
let root: string;
let summary: {
  executions: Array<Record<string, unknown> & { key: string; result: Record<string, unknown> }>;
};
let exitCode: number;

beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  root = mkdtempSync(join(tmpdir(), 'task-command-test-'));
  const uploads = join(root, 'uploads');
  for (const [name, body] of Object.entries({ ...AWKWARD_FILES, 'exit-3.txt': 'fails\n' })) {
    mkdirSync(join(uploads, name, '..'), { recursive: true });
    writeFileSync(join(uploads, name), body);
  }
  // GIVEN a setting of the host's environment, which a container would not have
  process.env.HOST_ONLY_SETTING = 'must not reach the task';
  // WHEN the pipeline runs them through a worker of its own, started by a shell command
  const { code, stdout } = await runCliOnce(templatePath, join(root, 's3'), [
    '--task-command',
    `node "${WORKER}"`,
    uploads,
  ]);
  delete process.env.HOST_ONLY_SETTING;
  exitCode = code;
  summary = JSON.parse(stdout);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('the command runs on awkward keys, which it gets exactly, and its results are reported by the contract', () => {
  const keys = Object.keys(AWKWARD_FILES).map((name) => `incoming/${name}`);
  const succeeded = summary.executions.filter((e) => e.status === 'SUCCEEDED');
  expect(succeeded.map((e) => e.key).sort()).toEqual(keys.sort());
  for (const execution of succeeded) {
    const body = AWKWARD_FILES[execution.key.replace('incoming/', '')];
    // (the summary read it from OUTPUT_BUCKET at OUTPUT_PREFIX + KEY + ".json")
    expect(execution.result).toMatchObject({
      worker: 'contract-worker',
      key: execution.key,
      bytes: Buffer.byteLength(body),
      environment: {
        BUCKET: 'local-pipeline-bucket',
        KEY: execution.key,
        OUTPUT_BUCKET: 'local-pipeline-bucket',
        OUTPUT_PREFIX: 'processed/',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
      },
    });
  }
});

test('it gets the task environment (overrides, region, local S3) and nothing of the host’s but PATH', () => {
  const names = summary.executions.find((e) => e.status === 'SUCCEEDED')!.result.environmentNames;
  expect(names).toEqual(
    expect.arrayContaining([
      'BUCKET',
      'KEY',
      'ETAG',
      'OUTPUT_BUCKET',
      'OUTPUT_PREFIX',
      'AWS_ENDPOINT_URL_S3',
      'PATH',
    ]),
  );
  expect(names).not.toContain('HOST_ONLY_SETTING');
  expect(names).not.toContain('HOME');
});

test('a command that exits 3 fails its execution with exit code 3 in the cause, and the run exits 1', () => {
  const failed = summary.executions.find((e) => e.key === 'incoming/exit-3.txt')!;
  expect(failed).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed', result: null });
  expect(JSON.stringify(failed.cause)).toContain('\\"ExitCode\\":3');
  expect(exitCode).toBe(1);
});

test('an empty --task-command is a usage error', async () => {
  const { code, stderr } = await runCli(['--template', templatePath, '--task-command', ' ', 'samples/']);
  expect(code).toBe(2);
  expect(stderr).toMatch(/^error: --task-command is empty: give the command that runs your worker/);
});
