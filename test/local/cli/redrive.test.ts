import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

import { DynamoDBClient, ListTablesCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

import { parseCliArgs, UsageError } from '../../../local/cli/args';
import type { JournalEntry } from '../../../local/stepfunctions/execution-journal';
import { executionArnOf, restartExecutionName } from '../../../shared/redrive';
import { runCli } from '../support/cli';
import { type TestDirectories, testDirectories } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The failed-objects loop as a user runs it, as child processes on one data directory: a crashing
 * worker (--inject-task-failures) fails executions, --failures lists them (npm run failures against
 * the local endpoint, which serves the journal), --redrive restarts them (npm run redrive), and
 * nothing is processed twice.
 */

interface Summary {
  executions: Array<{
    key: string;
    status: string;
    error: string | null;
    result: { sha256?: string } | null;
  }>;
}
interface FailuresDocument {
  since: string;
  failures: Array<Record<string, unknown>>;
  counts: Record<string, number>;
}
/** What npm run redrive -- --json prints: the same behind npm start -- --redrive --json. */
interface RedriveDocument {
  since: string;
  redrive: Array<{ key: string; action: string; failedExecutionArn: string; executionArn: string }>;
}

const objects: Record<string, string> = { 'a.txt': 'alpha\n', 'b.csv': 'x,y\n', 'c.json': '{"c":3}' };

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

let dirs: TestDirectories;
let uploads: string;
let common: string[];
beforeEach(() => {
  dirs = testDirectories();
  uploads = join(dirname(dirs.dataDir), 'uploads');
  mkdirSync(uploads, { recursive: true });
  for (const [name, body] of Object.entries(objects)) writeFileSync(join(uploads, name), body);
  common = ['--template', templatePath, '--port', '0', '--data-dir', dirs.dataDir];
});
afterEach(() => dirs.remove());

/** The journal in the data directory, as the pipeline wrote it. */
function journal(): JournalEntry[] {
  const dir = join(dirs.dataDir, 'executions');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as JournalEntry);
}

async function json<T>(args: string[]): Promise<{ code: number; document: T }> {
  const { code, stdout, stderr } = await runCli([...common, ...args, '--json']);
  try {
    return { code, document: JSON.parse(stdout) as T };
  } catch {
    throw new Error(`not one JSON document (exit ${code}): ${stdout}\n${stderr}`);
  }
}

test('inject failures, list them, redrive them: restarted, all succeed, nothing processed twice, a second --redrive runs nothing', async () => {
  // GIVEN a worker that crashes on the first two tasks
  const first = await json<Summary>(['--inject-task-failures', '2', uploads]);
  expect(first.code).toBe(1);
  const failedKeys = first.document.executions.filter((e) => e.status === 'FAILED').map((e) => e.key);
  expect(failedKeys).toHaveLength(2);
  for (const key of failedKeys) {
    expect(first.document.executions.find((e) => e.key === key)?.error).toBe('States.TaskFailed');
  }

  // WHEN the failures are listed (a new process: from the journal)
  const listed = await json<FailuresDocument>(['--failures']);
  expect(listed.code).toBe(0);
  expect(listed.document.counts).toEqual({ 'States.TaskFailed': 2 });
  expect(listed.document.failures.map((f) => f.key).sort()).toEqual([...failedKeys].sort());
  for (const failure of listed.document.failures) {
    expect(failure).toMatchObject({
      status: 'FAILED',
      error: 'States.TaskFailed',
      cause: expect.stringMatching(/^exit code 1, stop code EssentialContainerExited/),
      executionName: expect.any(String),
      stoppedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      redriveStatus: 'REDRIVABLE',
      consoleUrl: null,
    });
  }

  // (a dry run of one of them, as lines: it would restart it, and changes nothing)
  const dryRun = await runCli([...common, '--redrive', '--dry-run', '--key-prefix', failedKeys[0]]);
  expect(dryRun.stdout.trim().split('\n')).toEqual([
    expect.stringMatching(
      new RegExp(`^would restart {6}${failedKeys[0]} {2}arn:\\S+ -> arn:\\S+:redrive-[0-9a-f]{16}-`),
    ),
    expect.stringMatching(/^1 failed execution: 1 would restart since \S+Z \(dry run: nothing changed\)$/),
  ]);
  expect(dryRun.code).toBe(0);

  // AND redriven
  const redriven = await json<RedriveDocument>(['--redrive']);
  // THEN both are restarted, never redriven in place (that would resume them at their Fail state):
  // a new execution each, under the deterministic name, and they now succeed (the run waited for them)
  expect(redriven.code).toBe(0);
  expect(redriven.document.redrive.map((r) => r.action)).toEqual(['restarted', 'restarted']);
  const failedEntries = journal().filter((e) => e.status === 'FAILED');
  for (const outcome of redriven.document.redrive) {
    const failed = failedEntries.find((e) => e.executionArn === outcome.failedExecutionArn);
    expect(failed).toBeDefined();
    expect(outcome.executionArn).toBe(
      executionArnOf(failed!.stateMachineArn, restartExecutionName(failed!.executionArn, failed!.name)),
    );
    const restarted = journal().find((e) => e.executionArn === outcome.executionArn);
    expect(restarted).toMatchObject({ status: 'SUCCEEDED', input: failed!.input });
  }
  expect(redriven.document.redrive.map((r) => r.key).sort()).toEqual([...failedKeys].sort());
  // they left the failed list, and a second redrive runs nothing
  expect((await json<FailuresDocument>(['--failures'])).document.failures).toEqual([]);
  const again = await json<RedriveDocument>(['--redrive']);
  expect(again.code).toBe(0);
  expect(again.document).toEqual({ since: expect.any(String), redrive: [] });

  // AND nothing was processed twice: one success per object; the failed executions stay failed,
  // none redriven
  const entries = journal();
  const keyOf = (e: JournalEntry) => JSON.parse(e.input).key as string;
  const succeeded = entries.filter((e) => e.status === 'SUCCEEDED').map(keyOf);
  expect(succeeded.sort()).toEqual(Object.keys(objects).map((name) => `incoming/${name}`));
  expect(
    entries
      .filter((e) => e.status !== 'SUCCEEDED')
      .map(keyOf)
      .sort(),
  ).toEqual([...failedKeys].sort());
  expect(entries.map((e) => e.redriveCount)).toEqual(entries.map(() => 0));
});

test('past the 14-day window: one new execution under the deterministic name, never a second', async () => {
  // GIVEN an execution that failed 15 days ago (the journal's stop time moved back)
  const first = await json<Summary>(['--inject-task-failures', '1', join(uploads, 'a.txt')]);
  expect(first.code).toBe(1);
  const dir = join(dirs.dataDir, 'executions');
  const [file] = readdirSync(dir);
  const entry = JSON.parse(readFileSync(join(dir, file), 'utf8')) as JournalEntry;
  const longAgo = new Date(Date.now() - 15 * 86_400_000).toISOString();
  writeFileSync(join(dir, file), JSON.stringify({ ...entry, startDate: longAgo, stopDate: longAgo }));
  await ageFailedRecords(join(dirs.dataDir, 'dynamodb'), longAgo); // and its object's record, kept across runs
  // (outside the default window of a day, as for npm run failures)
  expect((await json<FailuresDocument>(['--failures'])).document.failures).toEqual([]);
  expect((await json<FailuresDocument>(['--failures', '--since', '30d'])).document.failures).toMatchObject([
    { key: 'incoming/a.txt', redriveStatus: 'NOT_REDRIVABLE' },
  ]);

  // WHEN redriven
  const redriven = await json<RedriveDocument>(['--redrive', '--since', '30d']);

  // THEN a new execution ran, under redrive-<hash>-<name>, as for a recent failure: the window no longer matters
  expect(redriven.code).toBe(0);
  expect(redriven.document.redrive).toEqual([
    expect.objectContaining({
      key: 'incoming/a.txt',
      action: 'restarted',
      executionArn: executionArnOf(
        entry.stateMachineArn,
        restartExecutionName(entry.executionArn, entry.name),
      ),
    }),
  ]);
  // the original no longer counts as failed, and a second redrive starts nothing
  expect((await json<FailuresDocument>(['--failures', '--since', '30d'])).document.failures).toEqual([]);
  expect((await json<RedriveDocument>(['--redrive', '--since', '30d'])).document.redrive).toEqual([]);
  expect(
    journal()
      .map((e) => e.status)
      .sort(),
  ).toEqual(['FAILED', 'SUCCEEDED']);
});

test.each([
  [['--failures', '--since', 'yesterday'], '--since "yesterday" is not a duration or a date: use e.g. 90m'],
  [['--since', '2h'], '--since is an option of --failures and --redrive: pass it with one of them'],
  [['--failures', '--dry-run'], '--dry-run is an option of --redrive and --replay-dead-letters: pass it'],
])(
  "the commands' options %j are checked before anything starts (npm start's UsageError: exit 2)",
  (args, message) => {
    expect(() => parseCliArgs(args)).toThrow(UsageError);
    expect(() => parseCliArgs(args)).toThrow(message);
  },
);

test("the commands' options are passed on to them, --json with them", () => {
  expect(
    parseCliArgs(['--redrive', '--since', '7d', '--key-prefix', 'incoming/a', '--dry-run', '--json']),
  ).toMatchObject({
    redrive: true,
    commandArgs: ['--json', '--since', '7d', '--key-prefix', 'incoming/a', '--dry-run'],
  });
  expect(parseCliArgs(['--failures']).commandArgs).toEqual([]);
  expect(parseCliArgs(['--json', 'samples/']).commandArgs).toEqual([]);
});

test('--failures and --redrive take no files, and are separate runs', async () => {
  const files = await runCli([...common, '--redrive', 'samples/']);
  expect(files.stderr).toMatch(/^error: --redrive takes no files/);
  expect(files.code).toBe(2);
  const both = await runCli([...common, '--failures', '--redrive']);
  expect(both.stderr).toMatch(/^error: --failures and --redrive are separate runs/);
  expect(both.code).toBe(2);
});

/** Moves back the failure time of every FAILED record in the records table the local runs keep under `directory`. */
async function ageFailedRecords(directory: string, failedAt: string): Promise<void> {
  const server = dynalite({ path: directory });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  try {
    const { TableNames = [] } = await client.send(new ListTablesCommand({}));
    const [table] = TableNames.filter((name) => name.startsWith('ObjectRecords'));
    const { Items = [] } = await client.send(new ScanCommand({ TableName: table }));
    const failed = Items.filter((item) => item.failedAt !== undefined);
    expect(failed).toHaveLength(1);
    for (const { bucket, objectVersion } of failed) {
      await client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { bucket, objectVersion },
          UpdateExpression: 'SET failedAt = :at',
          ExpressionAttributeValues: { ':at': { S: failedAt } },
        }),
      );
    }
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
