import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeMapRunCommand, ListMapRunsCommand, SFNClient } from '@aws-sdk/client-sfn';

import { localClientSettings } from '../../local/cli/aws-command';
import { endpointEnvironment } from '../../local/cli/banner';
import type { LocalPipeline } from '../../local/pipeline';
import { WORKER_BUNDLE } from '../../shared/paths';
import { executionArnOf, restartExecutionName } from '../../shared/redrive';
import { sha256, startTestPipeline } from '../local/support/pipeline';
import { synthesizedTemplate } from '../local/support/synthesized-template';
import { runNpmScript } from '../support/project-commands';

/**
 * The project's AWS commands as a user runs them (`npm run failures`: package.json's script), as
 * child processes against one local pipeline, with nothing set but the environment block `npm
 * start`'s banner prints: they read the stack's outputs from the local
 * CloudFormation, the rule's target from EventBridge, the dead-letter queue through SQS, and list,
 * describe and start executions through the Step Functions API.
 */

let pipeline: LocalPipeline;
let scratch: string;
/** While this file exists, the worker fails (exit 1) and deletes it: one crash, then it works. */
let crashOnce: string;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'aws-commands-'));
  crashOnce = join(scratch, 'crash-once');
  const worker = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(WORKER_BUNDLE)}`;
  pipeline = await startTestPipeline(await synthesizedTemplate(), {
    workerCommand: [
      '/bin/sh',
      '-c',
      `if rm ${JSON.stringify(crashOnce)} 2>/dev/null; then exit 1; fi; ${worker}`,
    ],
  });
});

afterAll(async () => {
  await pipeline?.stop({ drain: false });
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: string[];
}

/**
 * `npm run <script> -- <args>` (package.json's script, without npm's own start-up) with the
 * banner's environment and no other AWS setting of this machine.
 */
async function npmRun(
  script: string,
  args: readonly string[] = [],
  endpoint = pipeline.endpoint,
): Promise<Run> {
  const bare = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  const env = {
    ...bare,
    ...endpointEnvironment(endpoint),
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const result = await runNpmScript(script, args, env);
  return { ...result, lines: result.stdout.trim().split('\n') };
}

test('npm run failures lists a failed object, npm run redrive restarts it, and it succeeds', async () => {
  // GIVEN an object whose worker crashed
  writeFileSync(crashOnce, '');
  const key = `${pipeline.inputPrefix}commands/crashed.txt`;
  await pipeline.upload(key, 'crashed once\n');
  await pipeline.waitForIdle();
  const [failed] = pipeline.executions().filter((e) => e.key === key);
  expect(failed.status).toBe('FAILED');

  // WHEN npm run failures lists the failures
  const listed = await npmRun('failures');

  // THEN it gives its time, key, error, cause and ARN (no console URL: the execution is local), and the count
  expect(listed.lines).toEqual([
    expect.stringMatching(/^\S+Z {2}/),
    expect.stringMatching(/^1 failed execution: 1 States\.TaskFailed since \S+Z$/),
  ]);
  expect(listed.lines[0].split('  ').slice(1)).toEqual([
    key,
    'States.TaskFailed',
    expect.stringMatching(/^exit code 1, stop code EssentialContainerExited/),
    failed.executionArn,
  ]);
  expect(listed.code).toBe(0);

  // WHEN npm run redrive runs it again
  const redriven = await npmRun('redrive');
  await pipeline.waitForIdle();

  // THEN a new execution under the deterministic name processed the object
  const restartArn = executionArnOf(
    failed.stateMachineArn,
    restartExecutionName(failed.executionArn, failed.name),
  );
  expect(redriven.lines).toEqual([
    `${'restarted'.padEnd(17)}  ${key}  ${failed.executionArn} -> ${restartArn}`,
    expect.stringMatching(/^1 failed execution: 1 restarted since \S+Z$/),
  ]);
  expect(redriven.code).toBe(0);
  const restarted = pipeline.executions().find((e) => e.executionArn === restartArn);
  expect(restarted?.status).toBe('SUCCEEDED');
  expect(await pipeline.readResult(restarted!)).toMatchObject({ key, sha256: sha256('crashed once\n') });

  // AND the failure is no longer listed, and a second redrive starts nothing
  expect((await npmRun('failures', ['--json'])).stdout).toMatch(/"failures": \[\]/);
  const again = await npmRun('redrive');
  expect(again.lines).toEqual([expect.stringMatching(/^0 failed executions since /)]);
  expect(pipeline.executions().filter((e) => e.key === key)).toHaveLength(2);
});

test('npm run failures lists an execution stopped through the Step Functions API, with its error', async () => {
  // GIVEN an execution of the workflow stopped (ABORTED) while it runs
  const key = `${pipeline.inputPrefix}commands/stopped.txt`;
  await pipeline.upload(key, 'stopped\n');
  await pipeline.waitForIdle();
  const record = pipeline.startExecution({ bucket: pipeline.bucket, key, etag: '', versionId: '' });
  await pipeline.stepFunctionsApi.call('StopExecution', {
    executionArn: record.executionArn,
    error: 'Operator',
    cause: 'stopped by hand',
  });
  await pipeline.waitForIdle();

  // WHEN listed as JSON
  const { stdout, code } = await npmRun('failures', ['--json']);

  // THEN it is there, with its key, status and error, and counted
  const document = JSON.parse(stdout) as {
    failures: Array<Record<string, unknown>>;
    counts: Record<string, number>;
  };
  expect(document.failures).toEqual([
    expect.objectContaining({
      key,
      status: 'ABORTED',
      error: 'Operator',
      cause: 'stopped by hand',
      executionArn: record.executionArn,
      consoleUrl: null,
    }),
  ]);
  expect(document.counts).toEqual({ Operator: 1 });
  expect(code).toBe(0);
});

test('npm run replay-dead-letters replays the dead-letter queue once; a dry run changes nothing', async () => {
  // GIVEN an object whose event EventBridge dead-lettered (as it does after the RetryPolicy's attempts)
  const key = `${pipeline.inputPrefix}commands/dead-lettered.txt`;
  await pipeline.upload(key, 'dead-lettered\n');
  await pipeline.waitForIdle();
  const uploaded = pipeline.executions().find((e) => e.key === key)!.executionArn;
  const { ETag } = await pipeline.s3.send(new HeadObjectCommand({ Bucket: pipeline.bucket, Key: key }));
  const event = {
    version: '0',
    id: '11111111-2222-3333-4444-555555555555',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: '2026-12-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { bucket: { name: pipeline.bucket }, object: { key, size: 14, etag: ETag!.replace(/"/g, '') } },
  };
  const file = pipeline.deadLetters.put(event, {
    RULE_ARN: pipeline.rule.ruleArn,
    TARGET_ARN: pipeline.rule.targetArn,
    ERROR_CODE: 'THROTTLING',
    ERROR_MESSAGE: 'Rate exceeded',
    RETRY_ATTEMPTS: '185',
  });
  const name = `replay-${event.id}`;

  // WHEN a dry run looks at it, THEN it says what it would start, and the message stays visible
  const dryRun = await npmRun('replay-dead-letters', ['--dry-run']);
  expect(dryRun.lines).toEqual([
    expect.stringMatching(
      new RegExp(`^would replay \\S+ -> ${name} \\{"bucket":"${pipeline.bucket}","key":"${key}"`),
    ),
    '1 would be replayed, 0 would stay in the queue (dry run: nothing changed)',
  ]);
  expect(pipeline.deadLetters.queue.counts()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });

  // WHEN it is replayed
  const replayed = await npmRun('replay-dead-letters');
  await pipeline.waitForIdle();

  // THEN one execution processed the object, and the message (and its file) is gone
  const arn = executionArnOf(pipeline.stateMachine.arn, name);
  expect(replayed.lines).toEqual([
    expect.stringMatching(/^replayed \S+ -> /),
    '1 replayed, 0 kept in the queue',
  ]);
  expect(replayed.lines[0].endsWith(` -> ${arn}`)).toBe(true);
  expect(replayed.code).toBe(0);
  // The object had been processed from its upload's own event, so the replayed one ends at once as
  // a duplicate naming that execution, and the object ran once (object records, exactly once per version).
  const [processed, execution] = [uploaded, arn].map((a) =>
    pipeline.executions().find((e) => e.executionArn === a),
  );
  expect(execution).toMatchObject({
    key,
    status: 'SUCCEEDED',
    output: expect.objectContaining({ duplicateOf: uploaded }),
  });
  expect(execution!.attempts).toEqual([]);
  expect(await pipeline.readResult(processed!)).toMatchObject({ key, sha256: sha256('dead-lettered\n') });
  expect(existsSync(file)).toBe(false);
  expect(pipeline.deadLetters.count()).toBe(0);

  // AND a second replay finds nothing
  expect((await npmRun('replay-dead-letters')).lines).toEqual(['0 replayed, 0 kept in the queue']);
});

test('npm run backfill starts a run over a sub-prefix; its Map Run processes each object', async () => {
  // GIVEN two objects under incoming/commands-backfill/ (and one beside it, not listed)
  const objects = {
    'commands-backfill/a.txt': 'a\n',
    'commands-backfill/b.csv': 'b,c\n',
    'elsewhere.txt': 'x',
  };
  for (const [name, body] of Object.entries(objects))
    await pipeline.upload(pipeline.inputPrefix + name, body);
  await pipeline.waitForIdle();

  // WHEN
  const started = await npmRun('backfill', ['commands-backfill/']);
  await pipeline.waitForIdle();

  // THEN it printed the run it started, which listed the two objects and ran each to success
  const prefix = `${pipeline.inputPrefix}commands-backfill/`;
  expect(started.lines).toEqual([
    expect.stringMatching(new RegExp(`^backfill of "${prefix}" started: arn:\\S+$`)),
  ]);
  expect(started.code).toBe(0);
  const runArn = started.lines[0].split(' started: ')[1];
  const sfn = new SFNClient(localClientSettings(pipeline));
  try {
    const { mapRuns = [] } = await sfn.send(new ListMapRunsCommand({ executionArn: runArn }));
    expect(mapRuns).toHaveLength(1);
    const mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns[0].mapRunArn }));
    expect(mapRun).toMatchObject({ status: 'SUCCEEDED', itemCounts: { total: 2, succeeded: 2, failed: 0 } });
  } finally {
    sfn.destroy();
  }
  const children = pipeline.executions().filter((e) => e.mapRunArn !== undefined);
  expect(children.map((e) => e.key).sort()).toEqual([`${prefix}a.txt`, `${prefix}b.csv`]);
});

test('a bad argument: one line naming it and the fix, exit 2 (every refusal: test/shared/commands/command.test.ts)', async () => {
  const { code, stderr, stdout } = await npmRun('replay-dead-letters', ['extra']);
  expect(stderr).toBe("error: Unexpected argument 'extra'; see --help\n");
  expect(stdout).toBe('');
  expect(code).toBe(2);
});

test('with AWS_ENDPOINT_URL at a port nothing listens on: one line saying so, exit 2', async () => {
  const { code, stderr } = await npmRun('failures', [], 'http://127.0.0.1:9');
  expect(stderr).toMatch(
    /^error: nothing answers at http:\/\/127\.0\.0\.1:9 \(.*ECONNREFUSED.*\): start the local pipeline with npm start/,
  );
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(code).toBe(2);
});
