import { HeadObjectCommand } from '@aws-sdk/client-s3';

import { dataLayout } from '../../../local/cli/args';
import { ExecutionJournal } from '../../../local/stepfunctions/execution-journal';
import { runCli } from '../support/cli';
import { sha256, startTestPipeline, type TestDirectories, testDirectories } from '../support/pipeline';
import { editedTemplate, synthesizedTemplate } from '../support/synthesized-template';

/** `npm start -- --backfill` and `--replay-dead-letters` as a user runs them, as child processes. */

let templatePath: string;
let dirs: TestDirectories;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
  dirs = testDirectories();
});
afterAll(() => dirs?.remove());

/**
 * A pipeline on the CLI's --data-dir layout with the rule disabled: what it writes there, nothing
 * processes until the CLI under test runs.
 */
function seedingPipeline() {
  const layout = dataLayout(dirs.dataDir);
  return startTestPipeline(templatePath, {
    dataDir: layout.s3,
    deadLetterDir: layout.deadLetters,
    journalDir: layout.executions,
    ruleState: 'DISABLED',
  });
}

/** Lets every rule target's RetryPolicy in `template` allow `retries` retries. */
type RuleTemplate = {
  Resources: Record<string, { Type: string; Properties: { Targets?: Array<{ RetryPolicy?: object }> } }>;
};
function setRuleRetries(template: RuleTemplate, retries: number): void {
  const policies = Object.values(template.Resources)
    .filter((resource) => resource.Type === 'AWS::Events::Rule')
    .flatMap((rule) => rule.Properties.Targets ?? [])
    .filter((target) => target.RetryPolicy);
  expect(policies).not.toHaveLength(0);
  for (const target of policies)
    target.RetryPolicy = { ...target.RetryPolicy, MaximumRetryAttempts: retries };
}

const objects: Record<string, string> = {
  'incoming/cli/one.txt': 'one\n',
  'incoming/cli/two words.csv': 'a,b\n',
  'incoming/cli/three.json': '{"three":3}',
};

test('npm start -- --backfill --json processes the objects already in the bucket and prints one JSON document', async () => {
  // Written while the rule is disabled, where the CLI's --data-dir keeps its objects: nothing
  // processed them before the backfill.
  const seeding = await seedingPipeline();
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
  // The template with its rule's target retrying twice, not 185 times: the deployed policy's backoff
  // is about 8 hours of pipeline time, a minute and more of this test's at any --clock-speed that
  // keeps the every-minute reconciler on time (test/local/events/dead-letters.test.ts goes through
  // all 185 on a virtual clock). The CLI reports the retries the template gives.
  const twoRetries = editedTemplate<RuleTemplate>(templatePath, dirs.dataDir, 'two-retries', (template) =>
    setRuleRetries(template, 2),
  );
  const common = ['--template', twoRetries, '--port', '0', '--data-dir', dirs.dataDir];
  const failed = await runCli([...common, '--inject-start-failures', '1', 'samples/order.json']);

  expect(failed.code).toBe(1);
  expect(failed.stdout).toMatch(
    /^DEAD-LETTER {2}incoming\/order\.json {2}THROTTLING after 2 retries {2}-> /m,
  );
  expect(failed.stdout).toMatch(
    /^1 event in .*dead-letters: npm start -- --data-dir .* --replay-dead-letters$/m,
  );

  const replayed = await runCli([...common, '--replay-dead-letters', '--json']);
  // what npm run replay-dead-letters -- --json prints; the run waited for the execution to finish
  const document = JSON.parse(replayed.stdout) as {
    dryRun: boolean;
    replayed: Array<{ letterId: string; executionId: string }>;
    kept: unknown[];
  };
  expect(document).toEqual({
    dryRun: false,
    replayed: [
      { letterId: expect.any(String), executionId: expect.stringMatching(/:replay-[0-9a-f-]{36}$/) },
    ],
    kept: [],
  });
  const journal = new ExecutionJournal(dataLayout(dirs.dataDir).executions);
  expect(journal.get(document.replayed[0].executionId)).toMatchObject({
    status: 'SUCCEEDED',
    input: expect.stringContaining('"key":"incoming/order.json"'),
  });
  expect(replayed.code).toBe(0);
});

test('without --json: the lines npm run replay-dead-letters prints, then the execution it started', async () => {
  // GIVEN a dead letter (put as EventBridge's delivery puts one: the test above goes through its
  // retries) and its object, in the CLI's --data-dir
  const seeding = await seedingPipeline();
  const key = 'incoming/lines/order.json';
  await seeding.upload(key, '{"order":1}');
  // (the event names the version written: the worker skips an object that changed since its event)
  const { ETag } = await seeding.s3.send(new HeadObjectCommand({ Bucket: seeding.bucket, Key: key }));
  seeding.deadLetters.put(
    {
      version: '0',
      id: '22222222-3333-4444-5555-666666666666',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      detail: { bucket: { name: seeding.bucket }, object: { key, size: 11, etag: ETag!.replace(/"/g, '') } },
    },
    {
      RULE_ARN: seeding.rule.ruleArn,
      TARGET_ARN: seeding.rule.targetArn,
      ERROR_CODE: 'THROTTLING',
      ERROR_MESSAGE: 'Rate exceeded',
      RETRY_ATTEMPTS: '185',
    },
  );
  await seeding.stop();

  const replayed = await runCli([
    '--template',
    templatePath,
    '--port',
    '0',
    '--data-dir',
    dirs.dataDir,
    '--replay-dead-letters',
  ]);

  expect(replayed.stdout.trim().split('\n')).toEqual([
    expect.stringMatching(/:replay-22222222-3333-4444-5555-666666666666$/),
    '1 replayed, 0 kept in the queue',
    expect.stringMatching(/^SUCCEEDED {2}incoming\/lines\/order\.json {2}\d+ ms {2}-> /),
  ]);
  expect(replayed.stdout).toMatch(/^replayed \S+ -> arn:aws:states:\S+:replay-/);
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
    ['--clock-speed', '100000'],
    /^error: --clock-speed "100000" is too fast: .*; use a whole number from 1 to 5000$/m,
  ],
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
