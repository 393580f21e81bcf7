import { existsSync } from 'node:fs';

import { replayCommand } from '../../../bin/replay-dead-letters';
import { AwsServiceError, type LocalAwsService } from '../../../local/aws-service';
import { endpointEnvironment } from '../../../local/cli/banner';
import type { LocalPipeline } from '../../../local/pipeline';
import { ExecutionAlreadyExists } from '../../../local/stepfunctions/errors';
import { startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';
import { setEnvironment } from './environment';

/**
 * The project's own AWS command `npm run replay-dead-letters`, unchanged, against the local
 * endpoint with only AWS_ENDPOINT_URL and the local credentials set: it reads the stack's outputs
 * (CloudFormation), the rule's target (EventBridge), the dead-letter queue (SQS) and starts
 * executions (Step Functions) there.
 */

/**
 * StartExecution of the local pipeline's state machine, as a LocalAwsService: the part of the
 * Step Functions API this command calls, over the pipeline's real start path, until the engine's
 * StepFunctionsApi is registered in its place.
 */
function startExecutionService(pipeline: LocalPipeline): LocalAwsService {
  return {
    signingName: 'states',
    async call(action, request) {
      if (action !== 'StartExecution' || request.stateMachineArn !== pipeline.stateMachine.arn) {
        throw new AwsServiceError('UnknownOperationException', `${action} is not served by this test`);
      }
      try {
        const record = pipeline.startExecution(JSON.parse(String(request.input)), {
          name: String(request.name),
        });
        return { executionArn: record.executionArn, startDate: new Date() };
      } catch (error) {
        if (error instanceof ExecutionAlreadyExists)
          throw new AwsServiceError('ExecutionAlreadyExists', error.message);
        throw error;
      }
    },
  };
}

let pipeline: LocalPipeline;
let restoreEnvironment: () => void;

beforeAll(async () => {
  pipeline = await startTestPipeline(await synthesizedTemplate(), { ruleState: 'DISABLED' });
  pipeline.awsEndpoint.register(startExecutionService(pipeline));
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
