import { dataLayout } from '../../../local/cli/args';
import { runCli } from '../support/cli';
import { sha256, startTestPipeline, type TestDirectories, testDirectories } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/** `npm start -- --backfill` and `--replay-dead-letters` as a user runs them, as child processes. */

let templatePath: string;
let dirs: TestDirectories;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  dirs = testDirectories();
});
afterAll(() => dirs?.remove());

const objects: Record<string, string> = {
  'incoming/cli/one.txt': 'one\n',
  'incoming/cli/two words.csv': 'a,b\n',
  'incoming/cli/three.json': '{"three":3}',
};

test('npm start -- --backfill --json processes the objects already in the bucket and prints one JSON document', async () => {
  // Written while the rule is disabled, where the CLI's --data-dir keeps its objects: nothing
  // processed them before the backfill.
  const layout = dataLayout(dirs.dataDir);
  const seeding = await startTestPipeline(templatePath, {
    dataDir: layout.s3,
    deadLetterDir: layout.deadLetters,
    journalDir: layout.executions,
    ruleState: 'DISABLED',
  });
  for (const [key, body] of Object.entries(objects)) await seeding.upload(key, body);
  await seeding.stop();

  const { code, stdout } = await runCli([
    ...['--template', templatePath, '--port', '0', '--data-dir', dirs.dataDir],
    ...['--json', '--backfill'],
  ]);

  const summary = JSON.parse(stdout) as {
    backfill: Record<string, unknown>;
    executions: Array<Record<string, unknown>>;
    gate: unknown;
  };
  expect(summary.backfill).toEqual({
    prefix: 'incoming/',
    status: 'SUCCEEDED',
    items: 3,
    failed: 0,
    toleratedFailurePercentage: 10,
  });
  expect(summary.executions.map((e) => e.key).sort()).toEqual(Object.keys(objects).sort());
  for (const execution of summary.executions) {
    expect(execution).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(execution.result).toMatchObject({ sha256: sha256(objects[String(execution.key)]) });
  }
  // AND the children left the launch gate empty
  expect(summary.gate).toEqual({ holders: 0, waiters: 0 });
  expect(code).toBe(0);
});

test('an event that cannot start is dead-lettered, then --replay-dead-letters processes it', async () => {
  const common = ['--template', templatePath, '--port', '0', '--data-dir', dirs.dataDir];
  // EventBridge's retries (about 8 hours of backoff) on a clock 2,000 times real time: ~15 s
  const failed = await runCli([
    ...common,
    '--clock-speed',
    '2000',
    '--inject-start-failures',
    '1',
    'samples/order.json',
  ]);

  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(
    /^DEAD-LETTER {2}incoming\/order\.json {2}THROTTLING after 185 retries {2}-> /m,
  );
  expect(failed.stdout).toMatch(
    /^1 event in .*dead-letters: npm start -- --data-dir .* --replay-dead-letters$/m,
  );

  const replayed = await runCli([...common, '--replay-dead-letters', '--json']);
  const summary = JSON.parse(replayed.stdout) as {
    replay: unknown;
    executions: Array<Record<string, unknown>>;
  };
  expect(summary.replay).toEqual({ replayed: 1, kept: 0 });
  expect(summary.executions).toMatchObject([{ key: 'incoming/order.json', status: 'SUCCEEDED' }]);
  expect(replayed.code).toBe(0);
});

test('one replayed dead letter and one execution are counted in the singular', async () => {
  const common = ['--template', templatePath, '--port', '0', '--data-dir', dirs.dataDir];
  await runCli([...common, '--clock-speed', '2000', '--inject-start-failures', '1', 'samples/order.json']);

  const replayed = await runCli([...common, '--replay-dead-letters']);

  expect(replayed.stdout).toMatch(/^1 dead letter replayed, 0 kept; 1 execution: 1 succeeded, 0 failed$/m);
  expect(replayed.code).toBe(0);
});

test.each([
  [
    ['--backfill', 'samples/data.csv'],
    /^error: --backfill takes one key sub-prefix such as 2024\/, not files/,
  ],
  [['--backfill', 'a/', 'b/'], /^error: --backfill takes one key sub-prefix/],
  [['--replay-dead-letters', 'samples/'], /^error: --replay-dead-letters takes no files/],
  [['--backfill', '--replay-dead-letters'], /^error: --backfill and --replay-dead-letters are separate runs/],
  [['--inject-start-failures', 'some'], /^error: --inject-start-failures "some" is not valid/],
  [['--clock-speed', '0'], /^error: --clock-speed "0" is not valid/],
  [
    ['--port', '0', '--backfill', '/abs/'],
    /^error: --backfill "\/abs\/": sub-prefix "\/abs\/" starts with "\/"/,
  ],
])('bad arguments %j give a one-line error and exit 2', async (args, message) => {
  const { code, stderr } = await runCli(['--template', templatePath, '--data-dir', dirs.dataDir, ...args]);
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(code).toBe(2);
});
