import { executionLine } from '../../../local/cli/report';
import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { loadStateMachine } from '../../../local/stepfunctions/definitions';
import { releasedAfterEach, sha256, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/** Failure paths through the real pieces: a worker that really exits non-zero, Spot fallback. */

const used = releasedAfterEach();

describe('a worker that exits non-zero', () => {
  let templatePath: string;
  beforeAll(async () => {
    // Results go to a bucket that does not exist locally, so the worker's write fails for real (exit 1).
    templatePath = await synthesizedTemplate({ outputBucket: 'no-such-output-bucket' });
  });

  test('fails the execution through the Fail state, with the task description and exit code as the cause', async () => {
    const pipeline = (used.pipeline = await startTestPipeline(templatePath));
    await pipeline.upload('incoming/doomed.txt', 'cannot be written back');
    await pipeline.waitForIdle();

    const [execution] = pipeline.executions();
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.TaskFailed');
    // The Fail state's CausePath: States.Format('Processing s3://{}/{} failed: {}', ...), with the task JSON.
    const prefix = 'Processing s3://local-pipeline-bucket/incoming/doomed.txt failed: ';
    expect(execution.cause!.startsWith(prefix)).toBe(true);
    const task = JSON.parse(execution.cause!.slice(prefix.length));
    expect(task).toMatchObject({
      StopCode: 'EssentialContainerExited',
      LastStatus: 'STOPPED',
      Containers: [{ Name: 'worker', ExitCode: 1, LastStatus: 'STOPPED' }],
    });
    expect(execution.attempts).toHaveLength(1); // States.TaskFailed is not in the Retry list
    expect(execution.attempts[0].summary).toMatchObject({ outcome: 'failed', errorName: 'NoSuchBucket' });
    expect(executionLine(execution)).toMatch(
      /^FAILED .* States\.TaskFailed: task stopped \(EssentialContainerExited\), exit code 1/,
    );
  });
});

describe('capacity=spot-with-fallback', () => {
  let templatePath: string;
  beforeAll(async () => {
    templatePath = await synthesizedTemplate({ capacity: 'spot-with-fallback' });
  });

  test('an interrupted Spot task is run again on on-demand Fargate', async () => {
    const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
      faults: { spotInterruptions: 1 },
    }));
    await pipeline.upload('incoming/spot.txt', 'interrupted once');
    await pipeline.waitForIdle();

    const [execution] = pipeline.executions();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.attempts.map((a) => [a.stateName, a.stopCode, a.exitCode])).toEqual([
      ['RunWorkerOnSpot', 'SpotInterruption', 143], // SIGTERM: 128 + 15
      ['RunWorkerOnDemand', 'EssentialContainerExited', 0],
    ]);
    expect(await pipeline.readResult(execution)).toMatchObject({ sha256: sha256('interrupted once') });
    expect(executionLine(execution)).toContain('fell back to on-demand in RunWorkerOnDemand');
  });

  test.each([
    ['capacity', 'AmazonECS.Unknown'],
    ['capacity-exception', 'ECS.AmazonECSException'],
  ] as const)(
    'Spot capacity errors (%s: %s) are retried, then caught and run on on-demand Fargate',
    async (kind, error) => {
      // Spot waits ~5 minutes (scaled): the first run and every retry of its capacity retrier fail;
      // the Catch sends the execution to on-demand.
      const { definition } = loadStateMachine(
        deployLocally(readTemplateFile(templatePath), { region: 'us-east-1' }),
        'WorkflowStateMachine8F1B1C15',
      );
      const spotRetries = (definition.States.RunWorkerOnSpot.Retry as Array<{ MaxAttempts: number }>)[0]
        .MaxAttempts;
      const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
        faults: { launchErrors: { kind, count: spotRetries + 1 } },
      }));
      await pipeline.upload('incoming/no-capacity.txt', 'no spot today');
      await pipeline.waitForIdle();

      const [execution] = pipeline.executions();
      expect(execution.status).toBe('SUCCEEDED');
      expect(execution.attempts.map((a) => [a.stateName, a.error])).toEqual([
        ...Array(spotRetries + 1).fill(['RunWorkerOnSpot', error]),
        ['RunWorkerOnDemand', undefined],
      ]);
      expect(executionLine(execution)).toContain(
        `after ${spotRetries} retries of RunWorkerOnSpot, fell back to on-demand`,
      );
    },
  );
});

describe('a task ECS stopped before it ran (TaskFailedToStart)', () => {
  let templatePath: string;
  beforeAll(async () => {
    templatePath = await synthesizedTemplate();
  });

  test('is launched again, and the object succeeds', async () => {
    const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
      faults: { failedToStart: 1 },
    }));
    await pipeline.upload('incoming/pull-throttled.txt', 'second time lucky');
    await pipeline.waitForIdle();

    const [execution] = pipeline.executions();
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.attempts.map((a) => [a.stateName, a.stopCode, a.exitCode, a.error])).toEqual([
      ['RunWorker', 'TaskFailedToStart', null, 'States.TaskFailed'],
      ['RunWorker', 'EssentialContainerExited', 0, undefined],
    ]);
    expect(await pipeline.readResult(execution)).toMatchObject({ sha256: sha256('second time lucky') });
  });

  test('is launched again at most twice; the third failure fails the object with the task description', async () => {
    const pipeline = (used.pipeline = await startTestPipeline(templatePath, {
      faults: { failedToStart: 5 },
    }));
    await pipeline.upload('incoming/never-starts.txt', 'x');
    await pipeline.waitForIdle();

    const [execution] = pipeline.executions();
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.TaskFailed');
    expect(execution.attempts.map((a) => a.stopCode)).toEqual(Array(3).fill('TaskFailedToStart'));
    expect(execution.cause).toContain('"StopCode":"TaskFailedToStart"');
  });
});
