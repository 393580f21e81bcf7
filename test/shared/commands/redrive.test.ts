import {
  ExecutionAlreadyExists,
  ExecutionNotRedrivable,
  RedriveExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { redrive, REDRIVE_OPTIONS, REDRIVE_USAGE } from '../../../shared/commands/redrive';
import { restartExecutionName } from '../../../shared/redrive';
import { FakeStepFunctions, runCommand, WORKFLOW_ARN } from './support/step-functions';

/** `npm run redrive` against mocked Step Functions and CloudFormation clients. */

let aws: FakeStepFunctions;
beforeEach(() => {
  aws = new FakeStepFunctions();
});
afterEach(() => aws.restore());

const executionArn = (name: string) => `${WORKFLOW_ARN.replace(':stateMachine:', ':execution:')}:${name}`;

/** The StartExecution an object's failure should get: the event-driven workflow, same input, deterministic name. */
const restartOf = (failed: { executionArn: string; name: string; input?: string }) => ({
  stateMachineArn: WORKFLOW_ARN,
  name: restartExecutionName(failed.executionArn, failed.name),
  input: failed.input,
});

describe('npm run redrive', () => {
  test('restarts a failed, an aborted and a timed-out execution, redrivable or not: never RedriveExecution', async () => {
    // GIVEN failures RedriveExecution would accept (it would resume them at the Fail state, or past
    // the launch gate), and one past the 14-day window
    const failed = aws.failed('exec-1', 'incoming/a.csv', { hoursAgo: 3 });
    const aborted = aws.failed('exec-2', 'incoming/b.csv', { hoursAgo: 2, status: 'ABORTED' });
    const old = aws.failed('exec-old', 'incoming/old.csv', {
      hoursAgo: 15 * 24,
      status: 'TIMED_OUT',
      redrivable: false,
    });
    // WHEN
    const { code, lines } = await runCommand(redrive, ['--since', '30d']);
    // THEN each gets a new execution of the event-driven workflow with its input, under redrive-<hash>-<name>
    expect(code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
    expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(old), restartOf(failed), restartOf(aborted)]);
    const name = restartExecutionName(old.executionArn, 'exec-old');
    expect(name).toMatch(/^redrive-[0-9a-f]{16}-exec-old$/);
    expect(lines[0]).toBe(
      `${'restarted'.padEnd(17)}  incoming/old.csv  ${old.executionArn} -> ${executionArn(name)}`,
    );
    expect(lines.at(-1)).toMatch(/^3 failed executions: 3 restarted since /);
    // and the failed executions stay as they ended
    expect([failed, aborted, old].map((e) => aws.executions.get(e.executionArn)?.status)).toEqual([
      'FAILED',
      'ABORTED',
      'TIMED_OUT',
    ]);
    expect(aws.executions.get(executionArn(name))?.status).toBe('RUNNING');
  });

  test('running it twice never processes an object twice', async () => {
    aws.failed('exec-1', 'incoming/a.csv');
    aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    const first = await runCommand(redrive, []);
    expect(first.code).toBe(0);
    expect(aws.calls(StartExecutionCommand)).toHaveLength(2);

    // WHEN it runs again, while the new executions run (or after they succeeded)
    const second = await runCommand(redrive, []);

    // THEN it finds nothing to do, and starts nothing
    expect(second.code).toBe(0);
    expect(second.lines).toEqual([expect.stringMatching(/^0 failed executions since /)]);
    expect(aws.calls(StartExecutionCommand)).toHaveLength(2);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
  });

  test('a start that races an earlier one is refused by the name, and reported as already restarted', async () => {
    aws.failed('exec-1', 'incoming/a.csv');
    // GIVEN another redrive, run at the same time, started the new execution after this one listed
    aws.sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^already restarted +incoming\/a\.csv .* -> .*:redrive-[0-9a-f]{16}-exec-1$/);
    expect(lines[1]).toMatch(/^1 failed execution: 1 already restarted since /);
  });

  test('--dry-run prints what it would do and changes nothing', async () => {
    const failed = aws.failed('exec-1', 'incoming/a.csv');
    const { run } = aws.backfillRun('run-1', 'FAILED', {
      redrivable: true,
      error: 'States.ItemReaderFailed',
    });
    const { code, lines } = await runCommand(redrive, ['--dry-run']);
    expect(code).toBe(0);
    expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
    expect(aws.calls(StartExecutionCommand)).toEqual([]);
    expect(lines).toEqual([
      expect.stringMatching(/^would restart +incoming\/a\.csv .* -> .*:redrive-[0-9a-f]{16}-exec-1$/),
      expect.stringMatching(/^would redrive +incoming\/ .*:run-1$/),
      expect.stringMatching(
        /^2 failed executions: 1 would restart, 1 would redrive since .* \(dry run: nothing changed\)$/,
      ),
    ]);
    expect(aws.executions.get(failed.executionArn)?.status).toBe('FAILED');
    expect(aws.executions.get(run.executionArn)?.status).toBe('FAILED');
    expect(aws.executions.size).toBe(2);
  });

  test('--key-prefix restarts only the objects under it', async () => {
    aws.failed('exec-1', 'incoming/2024/a.csv');
    const under = aws.failed('exec-2', 'incoming/2025/b.csv');
    const { lines } = await runCommand(redrive, ['--key-prefix', 'incoming/2025/']);
    expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(under)]);
    expect(lines).toHaveLength(2);
  });

  test('exits 1 when an execution could not be restarted, naming why, and goes on with the others', async () => {
    aws.failed('exec-old', 'incoming/old.csv', { redrivable: false, hoursAgo: 20 });
    const other = aws.failed('exec-1', 'incoming/a.csv');
    aws.sfn
      .on(StartExecutionCommand, { name: restartExecutionName(executionArn('exec-old'), 'exec-old') })
      .rejects(
        Object.assign(new Error('User is not authorized to perform: states:StartExecution'), {
          name: 'AccessDeniedException',
        }),
      );
    const { code, lines } = await runCommand(redrive, []);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(
      /^not redriven +incoming\/old\.csv .*\(AccessDeniedException: User is not authorized/,
    );
    expect(lines[1]).toMatch(/^restarted +incoming\/a\.csv/);
    expect(lines[2]).toMatch(/^2 failed executions: 1 not redriven, 1 restarted since /);
    expect(aws.calls(StartExecutionCommand)).toEqual([
      restartOf({ executionArn: executionArn('exec-old'), name: 'exec-old', input: expect.any(String) }),
      restartOf(other),
    ]);
    expect(aws.executions.has(executionArn(restartOf(other).name))).toBe(true);
  });

  describe("a backfill's failed objects", () => {
    test('of a failed run: each restarts in the event-driven workflow, and the run is not redriven', async () => {
      // GIVEN a run that failed on its objects' failures (redriving it would redrive them in place)
      const { run, mapRunArn } = aws.backfillRun('run-1', 'FAILED', { redrivable: true });
      const x = aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv', 2);
      const y = aws.failedChild(mapRunArn, 'child-2', 'incoming/y.csv', 1);
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(x), restartOf(y)]);
      expect(lines.slice(0, 2)).toEqual([
        expect.stringMatching(
          /^restarted +incoming\/x\.csv .*:child-1 -> .*:Workflow:redrive-[0-9a-f]{16}-child-1$/,
        ),
        expect.stringMatching(/^restarted +incoming\/y\.csv /),
      ]);
      expect(aws.executions.get(run.executionArn)?.status).toBe('FAILED');
      expect(aws.executions.get(x.executionArn)?.status).toBe('FAILED');
      // and a second redrive finds nothing
      expect((await runCommand(redrive, [])).lines).toEqual([expect.stringMatching(/^0 failed executions/)]);
      expect(aws.calls(StartExecutionCommand)).toHaveLength(2);
    });

    test('of a run that succeeded (tolerated failures): each object restarts in the event-driven workflow', async () => {
      const { mapRunArn } = aws.backfillRun('run-1', 'SUCCEEDED');
      const child = aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv');
      const { code } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(child)]);
      expect((await runCommand(redrive, [])).lines).toEqual([expect.stringMatching(/^0 failed executions/)]);
      expect(aws.calls(StartExecutionCommand)).toHaveLength(1);
    });

    test('of a run still running: restarted now (a failed child is final), the run left alone', async () => {
      const { run, mapRunArn } = aws.backfillRun('run-1', 'RUNNING');
      const child = aws.failedChild(mapRunArn, 'child-1', 'incoming/x.csv');
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(lines[0]).toMatch(/^restarted +incoming\/x\.csv /);
      expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(child)]);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.executions.get(run.executionArn)?.status).toBe('RUNNING');
      // a later run, the backfill still going, does not start it again
      expect((await runCommand(redrive, [])).lines).toEqual([expect.stringMatching(/^0 failed executions/)]);
      expect(aws.calls(StartExecutionCommand)).toHaveLength(1);
    });

    test('--key-prefix restarts the objects of a run under it, whatever else the run failed', async () => {
      const { mapRunArn } = aws.backfillRun('run-1', 'FAILED', { redrivable: true });
      const under = aws.failedChild(mapRunArn, 'child-1', 'incoming/2024/x.csv');
      aws.failedChild(mapRunArn, 'child-2', 'incoming/2025/y.csv');
      const { code, lines } = await runCommand(redrive, ['--key-prefix', 'incoming/2024/']);
      expect(code).toBe(0);
      expect(aws.calls(StartExecutionCommand)).toEqual([restartOf(under)]);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(lines).toHaveLength(2);
    });
  });

  describe('a backfill run that failed by itself (no failed object)', () => {
    test('redrivable: RedriveExecution on the run, which resumes its Map', async () => {
      const { run } = aws.backfillRun('run-1', 'FAILED', {
        redrivable: true,
        error: 'States.ItemReaderFailed',
      });
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(0);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([{ executionArn: run.executionArn }]);
      expect(aws.calls(StartExecutionCommand)).toEqual([]);
      expect(lines[0]).toBe(`${'redriven'.padEnd(17)}  incoming/  ${run.executionArn}`);
      expect(aws.executions.get(run.executionArn)?.status).toBe('RUNNING');
    });

    test('past the window: not redriven, and not restarted (that would list the prefix again), exit 1', async () => {
      aws.backfillRun('run-1', 'FAILED', { error: 'States.ItemReaderFailed' });
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(1);
      expect(aws.calls(RedriveExecutionCommand)).toEqual([]);
      expect(aws.calls(StartExecutionCommand)).toEqual([]);
      expect(lines[0]).toMatch(/^not redriven +incoming\/ .*start a new one .*npm run backfill/);
    });

    test('RedriveExecution refusing after all: not redriven, naming why, exit 1', async () => {
      aws.backfillRun('run-1', 'FAILED', { redrivable: true, error: 'States.ItemReaderFailed' });
      aws.sfn.on(RedriveExecutionCommand).rejects(
        new ExecutionNotRedrivable({
          message: 'Execution has exceeded the max execution time',
          $metadata: {},
        }),
      );
      const { code, lines } = await runCommand(redrive, []);
      expect(code).toBe(1);
      expect(aws.calls(StartExecutionCommand)).toEqual([]);
      expect(lines[0]).toMatch(
        /^not redriven .*\(ExecutionNotRedrivable: Execution has exceeded the max execution time\)$/,
      );
    });
  });

  test('--help documents every option', async () => {
    const { code, text } = await runCommand(redrive, ['--help']);
    expect(code).toBe(0);
    expect(text).toBe(REDRIVE_USAGE);
    for (const option of Object.keys(REDRIVE_OPTIONS)) expect(REDRIVE_USAGE).toContain(`--${option}`);
  });
});
