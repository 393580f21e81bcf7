import {
  ExecutionAlreadyExists,
  ExecutionNotRedrivable,
  RedriveExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { redrive, REDRIVE_OPTIONS, REDRIVE_USAGE } from '../../bin/redrive';
import { restartExecutionName } from '../../shared/redrive';
import { FakeStepFunctions, runCommand, WORKFLOW_ARN } from './support/step-functions';

/** `npm run redrive` against mocked Step Functions and CloudFormation clients. */

let aws: FakeStepFunctions;
beforeEach(() => {
  aws = new FakeStepFunctions();
});
afterEach(() => aws.restore());

const executionArn = (name: string) => `${WORKFLOW_ARN.replace(':stateMachine:', ':execution:')}:${name}`;

describe('npm run redrive', () => {
  test('redrives a redrivable execution with RedriveExecution: same ARN, and it leaves the failed list', async () => {
    const failed = aws.failed('exec-1', 'incoming/a.csv');
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([{ executionArn: failed.executionArn }]);
    expect(aws.calls(StartExecutionCommand)).toEqual([]);
    expect(lines[0]).toMatch(new RegExp(`^redriven +incoming/a\\.csv  ${failed.executionArn}$`));
    expect(lines.at(-1)).toMatch(/^1 failed execution: 1 redriven since /);
    expect(aws.executions.get(failed.executionArn)?.status).toBe('RUNNING');
  });

  test('past the 14-day window: a new execution with the same input under a deterministic name', async () => {
    // GIVEN an execution Step Functions no longer redrives
    const failed = aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 15 * 24 });
    // WHEN
    const { code, lines } = await runCommand(redrive, ['--since', '30d']);
    // THEN
    expect(code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
    const name = restartExecutionName(failed.executionArn, 'exec-old');
    expect(name).toMatch(/^redrive-[0-9a-f]{16}-exec-old$/);
    expect(aws.calls(StartExecutionCommand)).toEqual([
      { stateMachineArn: WORKFLOW_ARN, name, input: failed.input },
    ]);
    expect(lines[0]).toBe(
      `${'restarted'.padEnd(30)}  incoming/old.csv  ${failed.executionArn} -> ${executionArn(name)}  (Execution redrivable period exceeded)`,
    );
  });

  test('running it twice never processes an object twice', async () => {
    // GIVEN one redrivable failure and one past the window
    aws.failed('exec-1', 'incoming/a.csv');
    aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    const first = await runCommand(redrive, []);
    expect(first.code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toHaveLength(1);
    expect(aws.calls(StartExecutionCommand)).toHaveLength(1);

    // WHEN it runs again, while the redriven and the new execution run (or after they succeeded)
    const second = await runCommand(redrive, []);

    // THEN it finds nothing to do, and starts nothing
    expect(second.code).toBe(0);
    expect(second.lines).toEqual([expect.stringMatching(/^0 failed executions since /)]);
    expect(aws.calls(RedriveExecutionCommand)).toHaveLength(1);
    expect(aws.calls(StartExecutionCommand)).toHaveLength(1);
  });

  test('a start that races an earlier one is refused by the name, and reported as already restarted', async () => {
    aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    // GIVEN another redrive, run at the same time, started the new execution after this one listed
    aws.sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^already restarted +incoming\/old\.csv /);
  });

  test('RedriveExecution refusing after all (ExecutionNotRedrivable) falls back to a new execution', async () => {
    const failed = aws.failed('exec-1', 'incoming/a.csv');
    aws.sfn.on(RedriveExecutionCommand).rejects(
      new ExecutionNotRedrivable({
        message: 'Execution has exceeded the max execution time',
        $metadata: {},
      }),
    );
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(0);
    const name = restartExecutionName(failed.executionArn, failed.name);
    expect(aws.calls(StartExecutionCommand)).toEqual([
      { stateMachineArn: WORKFLOW_ARN, name, input: failed.input },
    ]);
    expect(lines[0]).toMatch(
      /^restarted .*\(RedriveExecution refused: Execution has exceeded the max execution time\)$/,
    );
  });

  test('--dry-run prints what it would do and changes nothing', async () => {
    aws.failed('exec-1', 'incoming/a.csv');
    const old = aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    const { code, lines } = await runCommand(redrive, ['--dry-run']);
    expect(code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
    expect(aws.calls(StartExecutionCommand)).toEqual([]);
    expect(lines).toEqual([
      expect.stringMatching(/^would restart +incoming\/old\.csv .* -> .*:redrive-[0-9a-f]{16}-exec-old/),
      expect.stringMatching(/^would redrive +incoming\/a\.csv /),
      expect.stringMatching(
        /^2 failed executions: 1 would restart, 1 would redrive since .* \(dry run: nothing changed\)$/,
      ),
    ]);
    expect(aws.executions.get(old.executionArn)?.status).toBe('FAILED');
  });

  test('--key-prefix redrives only the objects under it', async () => {
    aws.failed('exec-1', 'incoming/2024/a.csv');
    aws.failed('exec-2', 'incoming/2025/b.csv');
    const { lines } = await runCommand(redrive, ['--key-prefix', 'incoming/2025/']);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([{ executionArn: executionArn('exec-2') }]);
    expect(lines).toHaveLength(2);
  });

  test('exits 1 when an execution could not be redriven, naming why, and goes on with the others', async () => {
    aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    aws.failed('exec-1', 'incoming/a.csv');
    aws.sfn.on(StartExecutionCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: states:StartExecution'), {
        name: 'AccessDeniedException',
      }),
    );
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(
      /^not redriven +incoming\/old\.csv .*\(AccessDeniedException: User is not authorized/,
    );
    expect(lines[1]).toMatch(/^redriven +incoming\/a\.csv/);
    expect(lines[2]).toMatch(/^2 failed executions: 1 not redriven, 1 redriven since /);
  });

  describe("a backfill's failed objects", () => {
    test('of a failed run: the run is redriven once, and its Map Run reruns them', async () => {
      const { run, mapRunArn } = aws.backfillRun('run-1', 'FAILED', { redrivable: true });
      aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv');
      aws.failedChild(mapRunArn, 'child-2', 'incoming/y.csv');
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([{ executionArn: run.executionArn }]);
      expect(lines.slice(0, 2)).toEqual([
        expect.stringMatching(/^redriven with its backfill run +incoming\/x\.csv .*-> .*:run-1$/),
        expect.stringMatching(/^redriven with its backfill run +incoming\/y\.csv /),
      ]);
      // and a second redrive finds nothing
      expect((await runCommand(redrive, [])).lines).toEqual([expect.stringMatching(/^0 failed executions/)]);
    });

    test('of a run that succeeded (tolerated failures): each object restarts in the event-driven workflow', async () => {
      const { mapRunArn } = aws.backfillRun('run-1', 'SUCCEEDED');
      const child = aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv');
      const { code } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.calls(StartExecutionCommand)).toEqual([
        {
          stateMachineArn: WORKFLOW_ARN,
          name: restartExecutionName(child.executionArn, 'child-1'),
          input: child.input,
        },
      ]);
      expect((await runCommand(redrive, [])).lines).toEqual([expect.stringMatching(/^0 failed executions/)]);
      expect(aws.calls(StartExecutionCommand)).toHaveLength(1);
    });

    test("--key-prefix that leaves out some of a redrivable run's failures redrives none of them, exit 1", async () => {
      const { mapRunArn } = aws.backfillRun('run-1', 'FAILED', { redrivable: true });
      aws.failedChild(mapRunArn, 'child-1', 'incoming/2024/x.csv');
      aws.failedChild(mapRunArn, 'child-2', 'incoming/2025/y.csv');
      const { code, lines } = await runCommand(redrive, ['--key-prefix', 'incoming/2024/']);
      expect(code).toBe(1);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.calls(StartExecutionCommand)).toEqual([]);
      expect(lines[0]).toMatch(
        /not redriven .*1 object\(s\) outside --key-prefix.*redrive without --key-prefix/,
      );
    });

    test('of a run still running: not redriven yet, exit 1', async () => {
      const { mapRunArn } = aws.backfillRun('run-1', 'RUNNING');
      aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv');
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(1);
      expect(lines[0]).toMatch(/not redriven .*is still running: redrive after it ends/);
      expect(aws.calls(StartExecutionCommand)).toEqual([]);
    });
  });

  test('--help documents every option', async () => {
    const { code, text } = await runCommand(redrive, ['--help']);
    expect(code).toBe(0);
    expect(text).toBe(REDRIVE_USAGE);
    for (const option of Object.keys(REDRIVE_OPTIONS)) expect(REDRIVE_USAGE).toContain(`--${option}`);
  });
});
