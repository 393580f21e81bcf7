import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../../shared/paths';
import { runCli, runCliOnce } from '../support/cli';
import { sha256 } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/** The CLI as a user runs it (`npm start -- ...`: package.json's script), as a child process. */

let templatePath: string;
let dataDir: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  dataDir = mkdtempSync(join(tmpdir(), 'local-cli-test-'));
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('npm start -- --json samples/ processes every sample and prints one JSON summary', async () => {
  const { code, stdout } = await runCliOnce(templatePath, dataDir, ['samples/']);

  const summary = JSON.parse(stdout) as { executions: Array<Record<string, unknown>>; gate: unknown };
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
  // AND the launch gate came to rest empty; no fault was asked for, so none is counted
  expect(summary.gate).toEqual({ holders: 0, waiters: 0 });
  expect(summary).not.toHaveProperty('gateFaults');
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
    /^error: --fargate-vcpu-quota "lots" is not valid: use a number of vCPU of at least one task.s/,
  ],
  [['--fargate-spot-vcpu-quota=-1'], /^error: --fargate-spot-vcpu-quota "-1" is not valid/],
  [['--inject-launch-errors', 'meteor:2'], /^error: --inject-launch-errors "meteor:2" is not valid/],
  [
    ['--gate-fault', 'lost=1', 'samples/'],
    /^error: --gate-fault "lost=1" names no fault "lost": use <kind>=<rate or count>\[@<state>\], kind one of lost-before, /,
  ],
  [
    ['--gate-fault', 'throttle=1', '--gate-fault', 'throttle=0.5', 'samples/'],
    /^error: --gate-fault "throttle=0.5" gives throttle a second time: give each kind once \(per state\)$/m,
  ],
  [
    ['--port', '0', '--gate-fault', 'throttle=1@ReleaseSlot', 'samples/'],
    /^error: --gate-fault throttle=…@ReleaseSlot: no state machine has a Task state "ReleaseSlot" that calls the launch gate: use one of .*ReleaseLaunchSlot/,
  ],
  [
    ['--seed', '-1', 'samples/'],
    /^error: --seed "-1" is not valid: use a whole number from 0 to 4294967295$/m,
  ],
  [
    ['--template', 'nope.json'],
    /^error: Cannot read the synthesized template nope\.json: ENOENT.*; run `npx cdk synth` first$/m,
  ],
  // parseArgs alone would call a negative value "ambiguous"
  [['--fargate-vcpu-quota', '-1', 'samples/'], /^error: --fargate-vcpu-quota "-1" is not valid/],
  [['--fargate-vcpu-quota', '0', 'samples/'], /^error: --fargate-vcpu-quota "0" is not valid/],
  [
    ['--fargate-spot-vcpu-quota', '0.1', 'samples/'],
    /^error: --fargate-spot-vcpu-quota 0.1 is below one task's 0.25 vCPU \(the template's task Cpu 256\): no task could start; use at least 0.25\n$/,
  ],
  [
    ['--task-command', 'pyhton3 worker.py', 'samples/'],
    /^error: --task-command "pyhton3 worker.py": command "pyhton3" not found on PATH; check its spelling/,
  ],
])('bad arguments %j give a one-line error and exit 2', async (args, message) => {
  const { code, stderr } = await runCli(['--template', templatePath, ...args]);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
});

test('a directory without files is refused, not taken for watch mode', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'local-cli-empty-'));
  try {
    const { code, stderr } = await runCli(['--template', templatePath, '--port', '0', empty]);
    expect(stderr.trim()).toBe(
      `error: ${empty}: no objects found in that directory; put files in it, or pass no path to keep running and watch the bucket`,
    );
    expect(code).toBe(2);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('options npm kept for itself (npm start --port 0 x, no --) are named, with the fix', async () => {
  // GIVEN what npm passes on for `npm start --port 0 -c cpu=512 x`: `0 x`, with --port and -c in its config
  const env = { npm_lifecycle_event: 'start', npm_config_port: 'true', npm_config_call: 'cpu=512' };

  const { code, stderr } = await runCli(['--template', templatePath, '0', 'x'], env);

  expect(stderr.trim()).toBe(
    'error: npm took --port, -c as its own options and did not pass them on: put -- before the options, e.g. npm start -- --port 0 samples/',
  );
  expect(code).toBe(2);
});

test('everything a run writes stays under --data-dir; one object is counted in the singular', async () => {
  // GIVEN an empty parent folder and a data directory inside it
  const parent = mkdtempSync(join(tmpdir(), 'local-cli-data-dir-'));
  try {
    // WHEN one object runs through the pipeline
    const { code, stdout, stderr } = await runCli([
      '--template',
      templatePath,
      '--port',
      '0',
      '--data-dir',
      join(parent, 'run'),
      '--clock-speed',
      '250',
      'samples/order.json',
    ]);

    // THEN the parent holds only the data directory, which holds the objects, the journal, the tables (and no dead letters: none)
    expect(code).toBe(0);
    // AND the run said which clock its durations are on
    expect(stderr).toMatch(
      /^Clock: 250 times real time \(--clock-speed\): .* durations below are pipeline time$/m,
    );
    expect(readdirSync(parent)).toEqual(['run']);
    expect(readdirSync(join(parent, 'run')).sort()).toEqual(['dynamodb', 'executions', 's3']);
    expect(stdout).toMatch(/^1 object: 1 succeeded, 0 failed\nlaunch gate at rest: 0 holders, 0 waiters$/m);

    // WHEN the same file runs again on the same data directory
    const again = await runCli([
      '--template',
      templatePath,
      '--port',
      '0',
      '--data-dir',
      join(parent, 'run'),
      'samples/order.json',
    ]);

    // THEN its record, kept in the data directory, makes it a duplicate of the first run's execution, said so
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^DUPLICATE {2}incoming\/order\.json .* held by arn:aws:states:/m);
    expect(again.stdout).toMatch(
      /^1 object: 1 succeeded, 0 failed; 1 duplicate event ended at once\n1 object had been processed by an earlier run \(records in .*run\/dynamodb\): change the files, or remove that directory, to process them again$/m,
    );
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('--gate-fault: the faults strike the gate, the run says how many, and the gate still comes to rest', async () => {
  const { code, stdout } = await runCli([
    '--template',
    templatePath,
    '--port',
    '0',
    '--data-dir',
    join(dataDir, 'gate-faults'),
    '--clock-speed',
    '250',
    '--gate-fault',
    'lost-after=1@ClaimLaunchSlot',
    '--gate-fault',
    'duplicate=1@ReleaseLaunchSlot',
    '--gate-fault',
    'throttle=0.5',
    '--seed',
    '7',
    'samples/order.json',
  ]);
  expect(stdout).toMatch(
    /^launch gate at rest: 0 holders, 0 waiters \(faults injected: \d+ throttle, 1 lost-after, 1 duplicate\)$/m,
  );
  expect(code).toBe(0);
});

test("--gate-fault missed-event: the records' sweep closes the record the recorder never heard end, before the run reports", async () => {
  // A sweep period (15 minutes) is 0.9 s at this speed; the record is swept once it is a period old.
  const { code, stdout } = await runCli([
    ...['--template', templatePath, '--port', '0', '--data-dir', join(dataDir, 'missed-event')],
    ...['--clock-speed', '1000', '--gate-fault', 'missed-event=1', 'samples/order.json'],
  ]);
  expect(stdout).toMatch(/^1 object: 1 succeeded, 0 failed$/m);
  expect(stdout).toMatch(/^launch gate at rest: 0 holders, 0 waiters \(faults injected: 1 missed-event\)$/m);
  expect(code).toBe(0);
});

test('a task command the shell cannot find (exit 127) is named as such in the execution line', async () => {
  // GIVEN a command that starts with an assignment, which only the shell reads (not checked up front)
  const { code, stdout } = await runCli([
    ...['--template', templatePath, '--port', '0', '--data-dir', join(dataDir, 'not-found')],
    ...['--task-command', 'MODE=fast no-such-worker-command', 'samples/order.json'],
  ]);

  expect(stdout).toMatch(
    /^FAILED +incoming\/order\.json .* exit code 127 \(the shell found no such command: check --task-command\)/m,
  );
  expect(code).toBe(1);
});

test('a misspelt -c key is refused at synth, naming the closest key, with exit 2 and no CDK output around it', async () => {
  const { code, stderr } = await runCli([
    '--port',
    '0',
    '--data-dir',
    join(dataDir, 'cpuu'),
    '-c',
    'cpuu=512',
    'samples/',
  ]);

  expect(stderr.trim().split('\n')).toEqual([
    'Synthesizing the app (cdk synth, which also rebuilds the worker bundle)...',
    'error: cpuu is not a configuration key: did you mean cpu? (every key is in README "Configuration")',
  ]);
  expect(code).toBe(2);
});

test('npm start --silent -- --json prints only the JSON document on stdout, as README shows it', async () => {
  // WHEN run through npm, as a user pipes it into jq
  const { stdout } = await promisify(execFile)(
    'npm',
    [
      'start',
      '--silent',
      '--',
      '--template',
      templatePath,
      '--port',
      '0',
      '--data-dir',
      join(dataDir, 'npm-json'),
      '--json',
      'samples/order.json',
    ],
    { cwd: PROJECT_ROOT },
  );

  // THEN stdout is one JSON document, with no npm header before it
  expect(JSON.parse(stdout)).toMatchObject({
    executions: [{ key: 'incoming/order.json', status: 'SUCCEEDED' }],
  });
});
