import {
  causeLine,
  consoleUrl,
  countsLine,
  type FailedExecution,
  failureReport,
} from '../../shared/failed-executions';
import { planRedrives, restartExecutionName } from '../../shared/redrive';

/** The report and the redrive plan that `npm run failures`/`redrive` and `npm start -- --failures`/`--redrive` share. */

const WORKFLOW = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Workflow';

function failure(name: string, more: Partial<FailedExecution> = {}): FailedExecution {
  return {
    executionArn: `${WORKFLOW.replace(':stateMachine:', ':execution:')}:${name}`,
    name,
    stateMachineArn: WORKFLOW,
    kind: 'object',
    status: 'FAILED',
    startDate: new Date('2026-11-30T00:00:00Z'),
    stopDate: new Date('2026-11-30T00:01:00Z'),
    input: JSON.stringify({ bucket: 'data', key: `incoming/${name}.csv` }),
    error: 'States.TaskFailed',
    redriveStatus: 'REDRIVABLE',
    ...more,
  };
}

describe('causeLine', () => {
  test("a worker's exit: exit code, stop code and stopped reason from the task description", () => {
    const task = {
      StopCode: 'EssentialContainerExited',
      StoppedReason: 'Essential container in task exited',
      Containers: [{ ExitCode: 137 }],
    };
    const cause = `Processing s3://data/incoming/a failed: ${JSON.stringify(task)}`;
    expect(
      causeLine({ input: JSON.stringify({ bucket: 'data', key: 'incoming/a' }), cause, status: 'FAILED' }),
    ).toBe(
      'exit code 137, stop code EssentialContainerExited, stopped reason "Essential container in task exited"',
    );
  });

  test('a task that never ran has no exit code; a text cause keeps its first line; none says so', () => {
    const input = JSON.stringify({ bucket: 'b', key: 'k' });
    expect(
      causeLine({
        input,
        cause: 'Processing s3://b/k failed: {"StopCode":"TaskFailedToStart"}',
        status: 'FAILED',
      }),
    ).toBe('no exit code, stop code TaskFailedToStart');
    expect(causeLine({ input, cause: 'Rate exceeded\nsecond line', status: 'FAILED' })).toBe('Rate exceeded');
    expect(causeLine({ input, cause: '', status: 'TIMED_OUT' })).toBe('(no cause)');
    expect(causeLine({ input, status: 'ABORTED' })).toBe('aborted (StopExecution)');
  });
});

test('consoleUrl follows the ARN: partition and region', () => {
  expect(consoleUrl('arn:aws:states:eu-west-1:1:execution:W:x')).toBe(
    'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:1:execution:W:x',
  );
  expect(consoleUrl('arn:aws-cn:states:cn-north-1:1:execution:W:x')).toMatch(
    /^https:\/\/cn-north-1\.console\.amazonaws\.cn\//,
  );
  expect(consoleUrl('arn:aws-us-gov:states:us-gov-west-1:1:execution:W:x')).toMatch(
    /^https:\/\/us-gov-west-1\.console\.amazonaws-us-gov\.com\//,
  );
});

test('countsLine: most frequent error first; an aborted execution counts as ABORTED', () => {
  const reports = [
    failure('a'),
    failure('b', { error: 'States.Timeout', status: 'TIMED_OUT' }),
    failure('c'),
    failure('d', { error: undefined, status: 'ABORTED' }),
  ].map((f) => failureReport(f, { console: false }));
  expect(countsLine(reports)).toBe('4 failed executions: 2 States.TaskFailed, 1 ABORTED, 1 States.Timeout');
});

describe('restartExecutionName', () => {
  test('is the same for the same failed execution, differs between executions, and is a valid name', () => {
    const arn = `${WORKFLOW.replace(':stateMachine:', ':execution:')}:x`;
    expect(restartExecutionName(arn, 'x')).toBe(restartExecutionName(arn, 'x'));
    expect(restartExecutionName(arn, 'x')).not.toBe(restartExecutionName(`${arn}y`, 'x'));
    const long = restartExecutionName(arn, 'n'.repeat(80) + ':/ ');
    expect(long).toHaveLength(80);
    expect(long).toMatch(/^redrive-[0-9a-f]{16}-[A-Za-z0-9_-]+$/);
  });
});

describe('planRedrives', () => {
  test("an object's failure is restarted, redrivable or not; a backfill child in the event-driven workflow", () => {
    const child = failure('c', {
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Backfill/ForEachExistingObject',
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:Backfill/ForEachExistingObject:c',
      redriveStatus: 'REDRIVABLE_BY_MAP_RUN',
      backfillRun: {
        executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:Backfill:run',
        status: 'RUNNING',
        redriveStatus: 'NOT_REDRIVABLE',
      },
    });
    const plan = planRedrives(
      [failure('a'), failure('b', { redriveStatus: 'NOT_REDRIVABLE', status: 'TIMED_OUT' }), child],
      { workflowArn: WORKFLOW },
    );
    expect(plan.map((p) => p.step)).toEqual([
      {
        kind: 'restart',
        stateMachineArn: WORKFLOW,
        name: restartExecutionName(failure('a').executionArn, 'a'),
        input: failure('a').input,
      },
      {
        kind: 'restart',
        stateMachineArn: WORKFLOW,
        name: restartExecutionName(failure('b').executionArn, 'b'),
        input: failure('b').input,
      },
      {
        kind: 'restart',
        stateMachineArn: WORKFLOW,
        name: restartExecutionName(child.executionArn, 'c'),
        input: child.input,
      },
    ]);
  });

  test('a backfill run that failed by itself is redriven while Step Functions allows it', () => {
    const run = failure('run', { kind: 'backfill', input: '{"prefix":"incoming/"}' });
    expect(planRedrives([run], { workflowArn: WORKFLOW })[0].step).toEqual({
      kind: 'redrive',
      executionArn: run.executionArn,
    });
  });

  test('a backfill run that failed by itself past the window is not restarted (that would reprocess the prefix)', () => {
    const run = failure('run', {
      kind: 'backfill',
      input: '{"prefix":"incoming/"}',
      redriveStatus: 'NOT_REDRIVABLE',
    });
    expect(planRedrives([run], { workflowArn: WORKFLOW })[0].step).toMatchObject({
      kind: 'cannot',
      why: expect.stringMatching(/start a new one .*npm run backfill/),
    });
  });

  test('--key-prefix leaves out other keys', () => {
    const plan = planRedrives([failure('a'), failure('b')], {
      workflowArn: WORKFLOW,
      keyPrefix: 'incoming/b',
    });
    expect(plan.map((p) => p.key)).toEqual(['incoming/b.csv']);
  });
});
