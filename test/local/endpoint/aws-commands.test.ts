import { existsSync } from 'node:fs';

import { endpointEnvironment } from '../../../local/cli/banner';
import type { LocalPipeline } from '../../../local/pipeline';
import { failures } from '../../../shared/commands/failures';
import { replayCommand } from '../../../shared/commands/replay-dead-letters';
import { startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';
import { setEnvironment } from './environment';

/**
 * The project's own AWS commands `npm run replay-dead-letters` and `npm run failures`, unchanged,
 * against the local endpoint with only AWS_ENDPOINT_URL and the local credentials set: they read the
 * stack's outputs (CloudFormation), the rule's target (EventBridge), the dead-letter queue (SQS),
 * and start, list and describe executions (the engine's Step Functions API) there.
 */

let pipeline: LocalPipeline;
let restoreEnvironment: () => void;

beforeAll(async () => {
  pipeline = await startTestPipeline(await synthesizedTemplate(), { ruleState: 'DISABLED' });
  // The block the banner prints, as a user pastes it.
  restoreEnvironment = setEnvironment(endpointEnvironment(pipeline.endpoint));
});

afterAll(async () => {
  restoreEnvironment?.();
  await pipeline?.stop({ drain: false });
});

test('npm run replay-dead-letters replays the local dead-letter queue, then finds it empty', async () => {
  // GIVEN an object whose event EventBridge dead-lettered
  const key = `${pipeline.inputPrefix}replayed/a.txt`;
  await pipeline.upload(key, 'a\n');
  const event = {
    version: '0',
    id: '11111111-2222-3333-4444-555555555555',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: '2026-12-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { bucket: { name: pipeline.bucket }, object: { key, size: 2, etag: 'x' } },
  };
  const file = pipeline.deadLetters.put(event, {
    RULE_ARN: pipeline.rule.ruleArn,
    TARGET_ARN: pipeline.rule.targetArn,
    ERROR_CODE: 'THROTTLING',
    ERROR_MESSAGE: 'Rate exceeded',
    RETRY_ATTEMPTS: '185',
  });

  // WHEN the AWS command runs against the endpoint
  const lines: string[] = [];
  expect(await replayCommand([], (line) => lines.push(line))).toBe(0);
  await pipeline.waitForIdle();

  // THEN one execution ran the object, and the message (and its file) is gone
  const name = `replay-${event.id}`;
  expect(lines).toEqual([
    expect.stringMatching(new RegExp(`^replayed \\S+ -> .*:${name}$`)),
    '1 replayed, 0 kept in the queue',
  ]);
  expect(pipeline.executions().map((e) => [e.name, e.key, e.status])).toEqual([[name, key, 'SUCCEEDED']]);
  expect(existsSync(file)).toBe(false);
  expect(pipeline.deadLetters.count()).toBe(0);

  // A second run finds nothing to replay.
  const again: string[] = [];
  expect(await replayCommand([], (line) => again.push(line))).toBe(0);
  expect(again).toEqual(['0 replayed, 0 kept in the queue']);
});

test('a dry run leaves the queue as it was', async () => {
  pipeline.deadLetters.put(
    { id: 'dry', detail: { bucket: { name: pipeline.bucket }, object: { key: 'k' } } },
    {
      RULE_ARN: pipeline.rule.ruleArn,
      TARGET_ARN: pipeline.rule.targetArn,
      ERROR_CODE: 'THROTTLING',
      ERROR_MESSAGE: 'Rate exceeded',
      RETRY_ATTEMPTS: '185',
    },
  );
  const lines: string[] = [];
  expect(await replayCommand(['--dry-run'], (line) => lines.push(line))).toBe(0);
  expect(lines.at(-1)).toBe('1 would be replayed, 0 would stay in the queue (dry run: nothing changed)');
  expect(pipeline.deadLetters.queue.counts()).toEqual({ visible: 1, inFlight: 0 });
});

test('npm run failures lists an execution stopped through the Step Functions API, from the same API', async () => {
  // GIVEN an execution of the workflow, stopped (ABORTED) while it runs
  const key = `${pipeline.inputPrefix}stopped/b.txt`;
  await pipeline.upload(key, 'b\n');
  const record = pipeline.startExecution({ bucket: pipeline.bucket, key, etag: '', versionId: '' });
  await pipeline.stepFunctionsApi.call('StopExecution', {
    executionArn: record.executionArn,
    error: 'Operator',
    cause: 'stopped by hand',
  });
  await pipeline.waitForIdle();

  // WHEN the AWS command lists the failures through the endpoint
  const printed: string[] = [];
  expect(await failures(['--json'], (line) => printed.push(line))).toBe(0);

  // THEN it is listed, with its key and status, and counted
  const document = JSON.parse(printed.join('\n')) as {
    failures: Array<{ key: string; status: string; error: string; executionArn: string }>;
    counts: Record<string, number>;
  };
  expect(document.failures).toEqual([
    expect.objectContaining({ key, status: 'ABORTED', executionArn: record.executionArn }),
  ]);
  expect(document.counts).toEqual({ Operator: 1 });
});
