import { localClientSettings } from '../../../local/cli/aws-command';
import { AutoClock } from '../../../local/clock';
import type { LocalPipeline } from '../../../local/pipeline';
import { replayCommand } from '../../../shared/commands/replay-dead-letters';
import { releasedAfterEach, sha256, startTestPipeline, testDirectories } from '../support/pipeline';
import { editedTemplate, synthesizedTemplate } from '../support/synthesized-template';

/**
 * The rule target's delivery, retries and dead-letter queue, and the replay, through the real pieces.
 * The store is a directory, so the replay runs in a second pipeline on the same directories (a restart).
 */

let templatePath: string;
beforeAll(async () => {
  templatePath = await synthesizedTemplate();
});

const used = releasedAfterEach();

// Keys as EventBridge delivers them: raw, never URL-encoded.
const objects: Record<string, string> = {
  'incoming/dlq/a b+c%2B.txt': 'first\n',
  'incoming/dlq/日本語.csv': 'x,y\n1,2\n',
  'incoming/dlq/third.json': '{"n":3}',
  'incoming/dlq/fourth.txt': 'fourth\n',
  'incoming/dlq/fifth.txt': 'fifth\n',
};
const keys = Object.keys(objects);

interface ReplayDocument {
  readonly code: number;
  readonly dryRun: boolean;
  readonly replayed: ReadonlyArray<{ letterId: string; executionId: string }>;
  readonly kept: ReadonlyArray<{ letterId: string; error: string }>;
}

/** `npm run replay-dead-letters -- --json` against the pipeline's endpoint; then its executions finish. */
async function replayed(pipeline: LocalPipeline): Promise<ReplayDocument> {
  const printed: string[] = [];
  const code = await replayCommand(['--json'], (line) => printed.push(line), localClientSettings(pipeline));
  await pipeline.waitForIdle();
  return { code, ...(JSON.parse(printed.join('\n')) as Omit<ReplayDocument, 'code'>) };
}

test('events that cannot start an execution are retried, dead-lettered, and replayed once', async () => {
  const dirs = (used.dirs = testDirectories());
  // The pipeline's one clock virtual, moving by itself (AutoClock): the deployed 185 retries (about 8
  // hours of EventBridge's backoff, and the every-minute reconciler's runs meanwhile) take as long as
  // their work; the retries' exact times are target-delivery.test.ts's. It starts now, so the dead
  // letters are within the queue's retention when the restart below reads them on a real clock. The
  // clock stands still until the 2 executions that start have ended: their tasks are real processes,
  // which virtual time would otherwise run past a worker's 3600 s TimeoutSeconds at once.
  const clock = new AutoClock(Date.now());
  let ended = 0;
  let bothEnded!: () => void;
  void clock.track(new Promise<void>((resolve) => (bothEnded = resolve)));
  let pipeline = (used.pipeline = await startTestPipeline(templatePath, {
    ...dirs,
    clock,
    faults: { startFailures: 3 },
    onExecutionFinished: () => {
      if (++ended === 2) bothEnded();
    },
  }));
  for (const key of keys) await pipeline.upload(key, objects[key]);
  await pipeline.waitForIdle();

  // The first 3 events never started an execution; the other 2 did.
  expect(pipeline.executions().map((e) => [e.key, e.status])).toEqual([
    [keys[3], 'SUCCEEDED'],
    [keys[4], 'SUCCEEDED'],
  ]);
  // In the order they were given up on, which the backoff's jitter decides (SQS keeps no order either).
  const letters = pipeline.deadLetters.messages();
  const events = letters.map(
    (letter) => JSON.parse(letter.Body) as { id: string; detail: { object: { key: string } } },
  );
  expect(events.map((event) => event.detail.object.key).sort()).toEqual(keys.slice(0, 3).sort());
  for (const letter of letters) {
    // The ORIGINAL event, as the rule matched it, with EventBridge's attributes beside it.
    expect(JSON.parse(letter.Body)).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: pipeline.bucket } },
    });
    expect(letter.MessageAttributes).toEqual({
      RULE_ARN: { DataType: 'String', StringValue: pipeline.rule.ruleArn },
      TARGET_ARN: { DataType: 'String', StringValue: pipeline.rule.targetArn },
      ERROR_CODE: { DataType: 'String', StringValue: 'THROTTLING' },
      ERROR_MESSAGE: { DataType: 'String', StringValue: expect.stringContaining('ThrottlingException') },
      EXHAUSTED_RETRY_CONDITION: { DataType: 'String', StringValue: 'MaximumRetryAttempts' },
      RETRY_ATTEMPTS: { DataType: 'String', StringValue: '185' }, // the template's RetryPolicy
    });
  }
  expect(pipeline.undelivered()).toHaveLength(3);
  await pipeline.stop();

  // A restart on the same directories, without the fault: the replay starts the 3 executions.
  pipeline = used.pipeline = await startTestPipeline(templatePath, { ...dirs });
  const replay = await replayed(pipeline);

  expect(replay.code).toBe(0);
  expect(replay.kept).toEqual([]);
  expect(replay.replayed).toHaveLength(3);
  const executions = pipeline.executions();
  expect(executions.map((e) => [e.name, e.key, e.status])).toEqual(
    events.map((event) => [`replay-${event.id}`, event.detail.object.key, 'SUCCEEDED']),
  );
  expect(replay.replayed.map((o) => o.executionId)).toEqual(executions.map((e) => e.executionArn));
  for (const execution of executions) {
    expect(await pipeline.readResult(execution)).toMatchObject({
      key: execution.key,
      sha256: sha256(objects[execution.key]),
    });
  }
  expect(pipeline.deadLetters.count()).toBe(0);

  // Replaying again starts nothing: the store is empty.
  expect(await replayed(pipeline)).toEqual({ code: 0, dryRun: false, replayed: [], kept: [] });

  // A letter whose file outlived its start (a crash before the delete): its name is taken, so no second run.
  pipeline.deadLetters.put(events[0], {
    RULE_ARN: pipeline.rule.ruleArn,
    TARGET_ARN: pipeline.rule.targetArn,
    ERROR_CODE: 'THROTTLING',
    ERROR_MESSAGE: 'Rate exceeded',
    RETRY_ATTEMPTS: '185',
  });
  const duplicate = await replayed(pipeline);
  expect(duplicate.replayed.map((o) => o.executionId)).toEqual([`replay-${events[0].id} (already started)`]);
  expect(pipeline.deadLetters.count()).toBe(0);
  expect(pipeline.executions()).toHaveLength(3);
});

test('an event whose target input is not JSON goes to the dead-letter queue at once, unretried', async () => {
  const dirs = (used.dirs = testDirectories());
  // The stack's InputTransformer cannot produce invalid JSON, so this template is the synthesized one
  // with an object placed inside a string, which EventBridge inserts unescaped (INVALID_JSON on AWS).
  interface InputTransformer {
    InputPathsMap: Record<string, string>;
    InputTemplate: string;
  }
  type Template = {
    Resources: Record<
      string,
      { Type: string; Properties: { Targets?: [{ InputTransformer: InputTransformer }] } }
    >;
  };
  const brokenTemplatePath = editedTemplate<Template>(
    templatePath,
    dirs.dataDir,
    'broken-input',
    (template) => {
      const rule = Object.values(template.Resources).find((r) => r.Type === 'AWS::Events::Rule');
      const transformer = rule!.Properties.Targets![0].InputTransformer;
      transformer.InputPathsMap['detail-object'] = '$.detail.object';
      transformer.InputTemplate = transformer.InputTemplate.replace(
        /}$/,
        ',"note":"object <detail-object>"}',
      );
    },
  );

  const pipeline = (used.pipeline = await startTestPipeline(brokenTemplatePath, { ...dirs }));
  await pipeline.upload('incoming/dlq/not-json.txt', 'x\n');
  await pipeline.waitForIdle();

  expect(pipeline.executions()).toEqual([]);
  const letters = pipeline.deadLetters.messages();
  expect(letters).toHaveLength(1);
  expect(JSON.parse(letters[0].Body)).toMatchObject({
    detail: { object: { key: 'incoming/dlq/not-json.txt' } },
  });
  expect(letters[0].MessageAttributes).toEqual({
    RULE_ARN: { DataType: 'String', StringValue: pipeline.rule.ruleArn },
    TARGET_ARN: { DataType: 'String', StringValue: pipeline.rule.targetArn },
    ERROR_CODE: { DataType: 'String', StringValue: 'INVALID_JSON' },
    ERROR_MESSAGE: { DataType: 'String', StringValue: expect.stringContaining('not valid JSON') },
    RETRY_ATTEMPTS: { DataType: 'String', StringValue: '0' }, // and no EXHAUSTED_RETRY_CONDITION
  });
});
