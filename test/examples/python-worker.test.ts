import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { PROJECT_ROOT } from '../../shared/paths';
import { runCliOnce } from '../local/support/cli';
import { synthesizedTemplate } from '../local/support/synthesized-template';

/**
 * examples/python-worker end to end through the local pipeline (`npm run test:examples`, not part of
 * `npm test`): it needs Python with boto3, which Debian's python3-boto3 puts in /usr/bin/python3.
 * Its results must be the bundled worker's, object for object.
 */

const PYTHON = '/usr/bin/python3';
const WORKER = 'examples/python-worker/worker.py';
const SNIFF_BYTES = 4100;

/** Objects where a manifest can go wrong: key encoding, text detection at the sniffed head, chunking. */
function inputs(): Record<string, Buffer> {
  const euro = Buffer.from('€'); // 3 bytes
  const cutAtHead = Buffer.concat([Buffer.alloc(SNIFF_BYTES - 1, 'a'), euro, Buffer.from('\nend')]);
  const large = Buffer.alloc(3 * 1024 * 1024 + 17, 'line of text\n');
  return {
    'with space.txt': Buffer.from('spaces\n'),
    'plus+sign %2B literal.csv': Buffer.from('a,b\r\n1,2\r\n3,4'),
    'ünïcödé/日本語 ✓.txt': Buffer.from('unicode path ✓\n'),
    "quote's (parens) & #hash.json": Buffer.from('{"a": 1}\n'),
    'empty.txt': Buffer.alloc(0),
    'binary.bin': Buffer.from([0, 1, 2, 253, 254, 255]),
    'cut-multibyte-at-head.txt': cutAtHead,
    'nul-after-head.bin': Buffer.concat([Buffer.alloc(SNIFF_BYTES + 10, 'x'), Buffer.from([0, 10])]),
    'large-3MiB.txt': large,
    'gradient.png': readFileSync(join(PROJECT_ROOT, 'samples', 'gradient.png')),
    'archive.gz': gzipSync(large),
    'document.pdf': Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n'),
  };
}

type Summary = { executions: Array<{ key: string; status: string; result: Record<string, unknown> | null }> };

let root: string;
let python: Summary;
let bundled: Summary;

beforeAll(async () => {
  try {
    execFileSync(PYTHON, ['-c', 'import boto3']);
  } catch {
    throw new Error(
      `${PYTHON} cannot import boto3: install Debian's python3-boto3 (apt-get install -y python3-boto3), ` +
        'which `npm run test:examples` needs',
    );
  }
  const templatePath = await synthesizedTemplate();
  root = mkdtempSync(join(tmpdir(), 'python-worker-test-'));
  const uploads = join(root, 'uploads');
  for (const [name, body] of Object.entries(inputs())) {
    mkdirSync(join(uploads, name, '..'), { recursive: true });
    writeFileSync(join(uploads, name), body);
  }
  const run = async (dataDir: string, taskCommand?: string[]): Promise<Summary> => {
    const { code, stdout, stderr } = await runCliOnce(templatePath, join(root, dataDir), [
      ...(taskCommand ?? []),
      uploads,
    ]);
    if (code !== 0) throw new Error(`npm start exited ${code}:\n${stderr}\n${stdout}`);
    return JSON.parse(stdout) as Summary;
  };
  // WHEN the same objects go through the pipeline with the Python worker, then with the bundled one
  python = await run('python', ['--task-command', `${PYTHON} ${WORKER}`]);
  bundled = await run('bundled');
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('the Python worker processes every object, under its exact key', () => {
  const keys = Object.keys(inputs()).map((name) => `incoming/${name}`);
  expect(python.executions.map((e) => e.key).sort()).toEqual(keys.sort());
  for (const execution of python.executions) {
    expect(execution).toMatchObject({ status: 'SUCCEEDED' });
    expect(execution.result).toMatchObject({ key: execution.key, workerVersion: 'python-example-1' });
  }
});

test('its manifest is the bundled worker’s: size, sha256, lines, content type, object identity', () => {
  const fields = [
    'bucket',
    'key',
    'versionId',
    'etag',
    'size',
    'sha256',
    'lines',
    'contentType',
    'processor',
  ];
  const pick = (result: Record<string, unknown> | null) =>
    Object.fromEntries(fields.map((field) => [field, result?.[field]]));
  for (const execution of python.executions) {
    const reference = bundled.executions.find((e) => e.key === execution.key);
    expect({ key: execution.key, ...pick(execution.result) }).toEqual({
      key: execution.key,
      ...pick(reference!.result),
    });
  }
});

test('on SIGTERM it stops, writes no result, logs its summary and exits 143', async () => {
  // GIVEN the worker stuck connecting to an S3 endpoint that never answers (a listening socket that never accepts)
  const { createServer } = await import('node:net');
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const child = spawn(PYTHON, [WORKER], {
    env: {
      PATH: process.env.PATH,
      BUCKET: 'data-bucket',
      KEY: 'incoming/slow.txt',
      OUTPUT_PREFIX: 'processed/',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
      AWS_S3_FORCE_PATH_STYLE: 'true',
    },
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // WHEN ECS stops the task
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.once('close', resolve));
  server.close();
  // THEN
  expect(code).toBe(143);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(summary).toMatchObject({ summary: true, outcome: 'terminated', exitCode: 143, signal: 'SIGTERM' });
});
