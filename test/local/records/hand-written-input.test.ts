import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

import { localClientSettings } from '../../../local/cli/aws-command';
import { VirtualClock } from '../../../local/clock';
import { failures } from '../../../shared/commands/failures';
import { releasedAfterEach, sha256, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';
import { PipelineClient, tasksRun } from './support';

/**
 * Hand-written StartExecutions, on the local pipeline (the synthesized template, its records table,
 * its recorder on the local bus), through the SDK against the local endpoint. One whose input has no
 * ETag runs on a virtual clock never advanced: it fails before any wait.
 */

const START_MS = Date.UTC(2026, 11, 2, 6);
const CAUSE =
  "the input has no etag, which keys the object's record: start the execution with the object's ETag " +
  '(aws s3api head-object --query ETag), as the rule and the backfill do';
const used = releasedAfterEach();
let client: PipelineClient | undefined;
let sfn: SFNClient | undefined;
afterEach(() => {
  client?.destroy();
  sfn?.destroy();
});

test.each([
  ['null', { etag: null }],
  ['no', {}],
])(
  'an input with %s etag fails named InputWithoutETag, runs no task, and npm run failures explains it',
  async (_, etag) => {
    const pipeline = (used.pipeline = await startTestPipeline(await synthesizedTemplate(), {
      clock: new VirtualClock(START_MS),
    }));
    client = await PipelineClient.of(pipeline);
    sfn = new SFNClient(localClientSettings(pipeline));
    const key = `${pipeline.inputPrefix}by hand.csv`;

    // WHEN an execution is started by hand, without the object's ETag
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: pipeline.stateMachine.arn,
        input: JSON.stringify({ bucket: pipeline.bucket, key, versionId: null, ...etag }),
      }),
    );
    await pipeline.waitForIdle();

    // THEN it failed at once with the named error and the fix, and ran no task
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'InputWithoutETag',
      cause: `Processing s3://${pipeline.bucket}/${key} failed: ${CAUSE}`,
    });
    expect(tasksRun(pipeline)).toBe(0);
    // AND its record (keyed `<key>#`, no ETag) says so
    expect(await client.records(key)).toEqual([
      expect.objectContaining({
        objectKey: key,
        etag: '',
        status: 'FAILED',
        error: 'InputWithoutETag',
        executionArn,
      }),
    ]);
    // AND npm run failures (here as npm start -- --failures runs it) names the error and the fix
    const lines: string[] = [];
    const since = new Date(START_MS - 60_000).toISOString();
    expect(
      await failures(['--since', since], (line) => lines.push(line), localClientSettings(pipeline)),
    ).toBe(0);
    expect(lines).toEqual([
      `${new Date(START_MS).toISOString()}  ${key}  InputWithoutETag  ${CAUSE}  ${executionArn}`,
      `1 failed execution: 1 InputWithoutETag since ${since}`,
    ]);
  },
);

test.each([
  ['null', { versionId: null }],
  ['no', {}],
])('an input with %s versionId processes the latest version, as an empty one does', async (_, versionId) => {
  // DISABLED: the upload starts nothing; the execution started by hand is the only one.
  const pipeline = (used.pipeline = await startTestPipeline(await synthesizedTemplate(), {
    ruleState: 'DISABLED',
  }));
  client = await PipelineClient.of(pipeline);
  sfn = new SFNClient(localClientSettings(pipeline));
  const key = `${pipeline.inputPrefix}by hand, no version.csv`;
  await pipeline.upload(key, 'a,b\n');
  const { ETag: etag } = await pipeline.s3.send(new HeadObjectCommand({ Bucket: pipeline.bucket, Key: key }));

  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: pipeline.stateMachine.arn,
      input: JSON.stringify({ bucket: pipeline.bucket, key, etag, ...versionId }),
    }),
  );
  await pipeline.waitForIdle();

  expect(await sfn.send(new DescribeExecutionCommand({ executionArn }))).toMatchObject({
    status: 'SUCCEEDED',
  });
  const [execution] = pipeline.executions();
  expect(execution.attempts.at(-1)?.environment).toMatchObject({ KEY: key, VERSION_ID: '' });
  expect(await pipeline.readResult(execution)).toMatchObject({ key, sha256: sha256('a,b\n') });
  expect(await client.records(key)).toEqual([
    expect.objectContaining({ objectKey: key, versionId: '', status: 'SUCCEEDED', executionArn }),
  ]);
});
