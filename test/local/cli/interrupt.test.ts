import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { JournalEntry } from '../../../local/stepfunctions/execution-journal';
import { PROJECT_ROOT } from '../../../shared/paths';
import { npmScript } from '../../support/project-commands';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * Ctrl-C on `npm start` with files, as a user presses it: a real SIGINT to a real CLI process whose
 * tasks are real process groups. The run must stop its tasks, record their executions as ABORTED
 * (as StopExecution would) and exit 130, leaving nothing running, and a second Ctrl-C must never
 * crash it.
 */

let templatePath: string;
let root: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'local-cli-interrupt-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stderrSoFar(): string;
}

/** The CLI with a task command that writes its shell's PID into `pids/` and then sleeps. */
function startRun(taskScript: string, objects: readonly string[], through: 'node' | 'npm' = 'node'): Run {
  const uploads = join(root, 'uploads');
  const pids = join(root, 'pids');
  for (const dir of [uploads, pids]) mkdirSync(dir, { recursive: true });
  for (const name of objects) writeFileSync(join(uploads, name), `${name}\n`);
  const args = [
    ...['--template', templatePath, '--port', '0', '--data-dir', join(root, 'data')],
    ...['--task-command', `echo $$ > ${pids}/$$; ${taskScript}`, uploads],
  ];
  // `npm start --silent -- ...` as a user types it, or the node process npm starts
  const child =
    through === 'npm'
      ? spawn('npm', ['start', '--silent', '--', ...args], { cwd: PROJECT_ROOT })
      : spawn(...npmScript('start', args), { cwd: PROJECT_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exited, stderrSoFar: () => stderr };
}

/** Polls until `ready` holds (the test's own timeout bounds it): no assertion on how long it took. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 50));
}

function taskPids(): number[] {
  const dir = join(root, 'pids');
  return existsSync(dir) ? readdirSync(dir).map(Number) : [];
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function journal(): JournalEntry[] {
  const dir = join(root, 'data', 'executions');
  return readdirSync(dir).map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as JournalEntry);
}

test('Ctrl-C on a run with files stops the tasks, records the executions ABORTED and exits 130', async () => {
  // GIVEN two objects whose tasks are running
  const run = startRun('exec sleep 600', ['a.txt', 'b.txt']);
  await until(() => taskPids().length === 2);

  // WHEN the user presses Ctrl-C
  run.child.kill('SIGINT');
  const { code, stderr } = await run.exited;

  // THEN the run says what it stopped, leaves no task running, and the journal says ABORTED
  expect(code).toBe(130);
  expect(stderr).toMatch(/^Ctrl-C: stopping 2 running executions \(SIGTERM to their tasks/m);
  expect(stderr).toMatch(
    /^Stopped 2 executions as ABORTED \(incoming\/a\.txt, incoming\/b\.txt\) in .*executions: npm start -- --data-dir .* --redrive runs them again$/m,
  );
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(taskPids().filter(isRunning)).toEqual([]);
  expect(
    journal()
      .map((e) => [JSON.parse(e.input).key, e.status])
      .sort(),
  ).toEqual([
    ['incoming/a.txt', 'ABORTED'],
    ['incoming/b.txt', 'ABORTED'],
  ]);
});

test('a second Ctrl-C kills tasks that ignore SIGTERM at once, without a crash', async () => {
  // GIVEN a task that ignores SIGTERM (its stop timeout is the container's 30 seconds)
  const run = startRun("trap '' TERM; while :; do sleep 1; done", ['a.txt']);
  await until(() => taskPids().length === 1);

  // WHEN Ctrl-C is pressed twice
  run.child.kill('SIGINT');
  await until(() => /^Ctrl-C: stopping/m.test(run.stderrSoFar()));
  run.child.kill('SIGINT');
  const { code, stderr } = await run.exited;

  // THEN the task is killed, the execution recorded ABORTED, and the exit is 130 with no stack trace
  expect(code).toBe(130);
  expect(stderr).toMatch(/^Ctrl-C again: killing 1 task now \(SIGKILL\)$/m);
  expect(stderr).not.toMatch(/ERR_SERVER_NOT_RUNNING|^\s+at /m);
  await until(() => taskPids().every((pid) => !isRunning(pid)));
  expect(journal().map((e) => e.status)).toEqual(['ABORTED']);
});

test("kill -INT on npm's PID reaches the CLI (npm start runs node in place of its shell)", async () => {
  // GIVEN `npm start` with one running task
  const run = startRun('exec sleep 600', ['a.txt'], 'npm');
  await until(() => taskPids().length === 1);

  // WHEN npm's own process is sent SIGINT (npm passes it to its child)
  run.child.kill('SIGINT');
  const { code, stderr } = await run.exited;

  // THEN the CLI stopped as on Ctrl-C
  expect(stderr).toMatch(/^Stopped 1 execution as ABORTED \(incoming\/a\.txt\)/m);
  expect(code).toBe(130);
  await until(() => taskPids().every((pid) => !isRunning(pid)));
  expect(journal().map((e) => e.status)).toEqual(['ABORTED']);
});
