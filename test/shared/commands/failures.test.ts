import { failures, FAILURES_OPTIONS, FAILURES_USAGE } from '../../../shared/commands/failures';
import { restartExecutionName } from '../../../shared/redrive';
import { runWithoutAws } from '../../support/command-without-aws';
import {
  BACKFILL_ARN,
  FakeStepFunctions,
  HOUR_MS,
  NOW,
  runCommand,
  taskCause,
  WORKFLOW_ARN,
} from './support/step-functions';

/** `npm run failures` against mocked Step Functions and CloudFormation clients. */

let aws: FakeStepFunctions;
beforeEach(() => {
  aws = new FakeStepFunctions();
});
afterEach(() => aws.restore());

describe('npm run failures', () => {
  test('pages through ListExecutions for each failed status and lists what stopped in the window', async () => {
    // GIVEN 5 failed executions in the window (3 pages of 2) and 2 that stopped before it
    for (let i = 0; i < 5; i++) aws.failed(`exec-${i}`, `incoming/file-${i}.csv`, { hoursAgo: i + 1 });
    aws.failed('old-1', 'incoming/old-1.csv', { hoursAgo: 30 });
    aws.failed('old-2', 'incoming/old-2.csv', { hoursAgo: 40 });
    aws.failed('timed-out', 'incoming/slow.csv', {
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: '',
    });
    aws.failed('aborted', 'incoming/stopped.csv', { status: 'ABORTED', error: '', cause: '' });

    // WHEN
    const { code, lines } = await runCommand(failures, []);

    // THEN every page was read, for each of FAILED, TIMED_OUT and ABORTED
    const listed = aws.listed.filter((c) => c.stateMachineArn === WORKFLOW_ARN);
    expect(listed.filter((c) => c.statusFilter === 'FAILED').map((c) => c.nextToken)).toEqual([
      undefined,
      '2',
      '4',
      '6',
    ]);
    expect(new Set(listed.map((c) => c.statusFilter))).toEqual(new Set(['FAILED', 'TIMED_OUT', 'ABORTED']));
    expect(code).toBe(0);
    // one line per execution in the window, oldest first, then the counts
    expect(lines).toHaveLength(8);
    expect(lines.slice(0, 7).map((line) => line.split('  ')[1])).toEqual([
      'incoming/file-4.csv',
      'incoming/file-3.csv',
      'incoming/file-2.csv',
      'incoming/file-1.csv',
      'incoming/file-0.csv',
      'incoming/slow.csv',
      'incoming/stopped.csv',
    ]);
    expect(lines.join('\n')).not.toMatch(/old-/);
    expect(lines[7]).toMatch(
      /^7 failed executions: 5 States\.TaskFailed, 1 ABORTED, 1 States\.Timeout since /,
    );
  });

  test('a line gives the time, key, error, one-line cause, ARN and console URL', async () => {
    const execution = aws.failed('exec-1', 'incoming/a b.csv', { hoursAgo: 2 });
    const { lines } = await runCommand(failures, []);
    expect(lines[0]).toBe(
      [
        execution.stopDate!.toISOString(),
        'incoming/a b.csv',
        'States.TaskFailed',
        'exit code 1, stop code EssentialContainerExited, stopped reason "Essential container in task exited"',
        execution.executionArn,
        `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${execution.executionArn}`,
      ].join('  '),
    );
  });

  test('a launch error shows its message; --json prints the failures and a count per error', async () => {
    aws.failed('exec-1', 'incoming/a.csv', {
      error: 'ECS.AmazonECSException',
      cause:
        'Processing s3://data/incoming/a.csv failed: Rate exceeded (Service: AmazonECS; Status Code: 400)\nmore',
    });
    aws.failed('exec-2', 'incoming/b.csv', { hoursAgo: 3 });
    const { code, text } = await runCommand(failures, ['--json', '--since', '12h']);
    expect(code).toBe(0);
    const document = JSON.parse(text);
    expect(document.counts).toEqual({ 'ECS.AmazonECSException': 1, 'States.TaskFailed': 1 });
    expect(document.failures).toEqual([
      expect.objectContaining({
        key: 'incoming/b.csv',
        error: 'States.TaskFailed',
        cause: expect.stringMatching(/^exit code 1/),
      }),
      expect.objectContaining({
        key: 'incoming/a.csv',
        status: 'FAILED',
        error: 'ECS.AmazonECSException',
        cause: 'Rate exceeded (Service: AmazonECS; Status Code: 400)',
        fullCause: expect.stringContaining('\nmore'),
        executionName: 'exec-1',
        executionArn: expect.stringContaining(':execution:Workflow:exec-1'),
        stoppedAt: expect.any(String),
        redriveStatus: 'REDRIVABLE',
        backfillRunArn: null,
        consoleUrl: expect.stringMatching(/^https:\/\/us-east-1\.console\.aws\.amazon\.com\//),
      }),
    ]);
    expect(new Date(document.since).getTime()).toBeCloseTo(Date.now() - 12 * HOUR_MS, -4);
  });

  test("lists a backfill's failed objects (children of its Map Runs) and a backfill run that failed by itself", async () => {
    // GIVEN a run that succeeded with one tolerated failure, and one whose listing failed
    const { mapRunArn } = aws.backfillRun('run-1', 'SUCCEEDED');
    aws.failedChild(mapRunArn, 'child-1', 'incoming/2024/x.csv');
    const { run } = aws.backfillRun('run-2', 'FAILED', {
      redrivable: true,
      error: 'States.ItemReaderFailed',
    });
    const { text } = await runCommand(failures, ['--json']);
    const document = JSON.parse(text);
    expect(document.failures).toEqual([
      expect.objectContaining({
        key: 'incoming/2024/x.csv',
        kind: 'object',
        backfillRunArn: expect.stringContaining(':run-1'),
      }),
      expect.objectContaining({
        key: 'incoming/',
        kind: 'backfill',
        executionArn: run.executionArn,
        error: 'States.ItemReaderFailed',
      }),
    ]);
    const listed = aws.listed;
    expect(listed).toContainEqual(expect.objectContaining({ mapRunArn, statusFilter: 'FAILED' }));
    expect(listed).toContainEqual(expect.objectContaining({ stateMachineArn: BACKFILL_ARN }));
  });

  test('a failure that a redrive restarted is not listed; its new execution is, if that failed too', async () => {
    const original = aws.failed('exec-1', 'incoming/a.csv', { redrivable: false, hoursAgo: 20 });
    const first = await runCommand(failures, ['--json']);
    expect(JSON.parse(first.text).failures).toHaveLength(1);
    // WHEN a redrive restarted it, and the new execution failed again
    const restartName = restartExecutionName(original.executionArn, original.name);
    aws.failed(restartName, 'incoming/a.csv', { cause: taskCause('data', 'incoming/a.csv', 2) });
    // THEN only the new execution is listed
    const second = JSON.parse((await runCommand(failures, ['--json'])).text).failures;
    expect(second.map((f: { executionName: string }) => f.executionName)).toEqual([restartName]);
    expect(second[0].cause).toMatch(/^exit code 2/);
  });

  test('--since takes a duration or an ISO date, and rejects anything else naming the fix', async () => {
    aws.failed('exec-1', 'incoming/a.csv', { hoursAgo: 50 });
    const since = new Date(NOW.getTime() - 72 * HOUR_MS).toISOString();
    expect(JSON.parse((await runCommand(failures, ['--json', '--since', since])).text).failures).toHaveLength(
      1,
    );
    expect(JSON.parse((await runCommand(failures, ['--json', '--since', '3d'])).text).failures).toHaveLength(
      1,
    );
    expect(JSON.parse((await runCommand(failures, ['--json', '--since', '48h'])).text).failures).toHaveLength(
      0,
    );
    await expect(runCommand(failures, ['--since', 'yesterday'])).rejects.toThrow(
      /--since "yesterday" is not a duration or a date: use e\.g\. 90m, 24h, 7d or 2026-11-30T12:00:00Z/,
    );
  });

  test('--help documents every option', async () => {
    const { code, text } = await runCommand(failures, ['--help']);
    expect(code).toBe(0);
    expect(text).toBe(FAILURES_USAGE);
    for (const option of Object.keys(FAILURES_OPTIONS)) expect(FAILURES_USAGE).toContain(`--${option}`);
    expect(aws.listed).toHaveLength(0);
  });
});

describe('npm run failures without AWS set up', () => {
  /** The command as npm runs it, on a machine with no AWS configuration at all (the real SDK, no network reached). */
  const runWithout = (env: Record<string, string>) => runWithoutAws('failures', [], env);

  test.each([
    [{}, 'no AWS region is set'],
    [{ AWS_REGION: 'eu-west-1' }, 'no AWS credentials were found'],
  ])('with %j it says what it needs and how to run it locally, in one line, exit 2', (env, problem) => {
    const { status, stderr } = runWithout(env);

    expect(stderr).toBe(
      `error: this command reads the deployed stack "S3FargatePipeline" with your AWS credentials, and ${problem}: ` +
        'set AWS_REGION and AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account the stack ' +
        'is deployed in (npx cdk deploy), or pass --stack; for the local pipeline run npm start -- --failures\n',
    );
    expect(status).toBe(2);
  });
});
