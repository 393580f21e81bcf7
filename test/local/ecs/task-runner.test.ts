import { type Clock, RealClock, VirtualClock } from '../../../local/clock';
import type { LocalTaskDefinition } from '../../../local/ecs/task-definitions';
import { containerEnvironment, LocalEcsTaskRunner, placedOnSpot } from '../../../local/ecs/task-runner';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { LocalStateMachine } from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

describe('containerEnvironment', () => {
  const container = {
    name: 'worker',
    essential: true,
    stopTimeoutSeconds: 30,
    environment: [
      { name: 'OUTPUT_PREFIX', value: 'processed/' },
      { name: 'KEY', value: 'from-task-definition' },
    ],
  };
  test('overrides win by name; a null or missing override value leaves the variable out', () => {
    expect(
      containerEnvironment(container, {
        Environment: [
          { Name: 'KEY', Value: 'a b+c.txt' },
          { Name: 'VERSION_ID', Value: null },
          { Name: 'ETAG' },
        ],
      }),
    ).toEqual({ OUTPUT_PREFIX: 'processed/', KEY: 'a b+c.txt' });
  });
});

test('placedOnSpot follows the capacity provider strategy', () => {
  const strategy = (...providers: Array<[string, number, number?]>) => ({
    TaskDefinition: 'f',
    CapacityProviderStrategy: providers.map(([CapacityProvider, Weight, Base]) => ({
      CapacityProvider,
      Weight,
      Base,
    })),
  });
  expect(placedOnSpot(strategy(['FARGATE_SPOT', 1]))).toBe(true);
  expect(placedOnSpot(strategy(['FARGATE', 1]))).toBe(false);
  expect(placedOnSpot({ TaskDefinition: 'f', LaunchType: 'FARGATE' })).toBe(false);
  expect(placedOnSpot(strategy(['FARGATE', 1, 1], ['FARGATE_SPOT', 4]))).toBe(false);
  expect(placedOnSpot(strategy(['FARGATE', 1], ['FARGATE_SPOT', 4]))).toBe(true);
});

/** A runner for one task definition, `family`, whose one container runs `command`. */
function runnerOf(
  family: string,
  command: string[],
  onLog?: (line: string) => void,
  clock: Clock = new RealClock(),
  stopTimeoutSeconds = 30,
): LocalEcsTaskRunner {
  const taskDefinition: LocalTaskDefinition = {
    logicalId: 'T',
    family,
    arn: `arn:aws:ecs:us-east-1:000000000000:task-definition/${family}:1`,
    containers: [{ name: 'worker', essential: true, environment: [], stopTimeoutSeconds }],
  };
  return new LocalEcsTaskRunner({
    clock,
    taskDefinitions: [taskDefinition],
    command,
    baseEnvironment: {},
    partition: 'aws',
    region: 'us-east-1',
    accountId: '000000000000',
    onLog,
  });
}

test("a task state's TimeoutSeconds stops the task with SIGTERM and fails with States.Timeout", async () => {
  const stopped: Array<number | null | undefined> = [];
  // A container that never finishes on its own and dies on SIGTERM, on a clock 10 times real time.
  const clock = new RealClock(10);
  const runner = runnerOf(
    'sleeper',
    [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    undefined,
    clock,
  );
  const definition = {
    StartAt: 'Run',
    States: {
      Run: {
        Type: 'Task',
        Resource: 'arn:aws:states:::ecs:runTask.sync',
        Parameters: { TaskDefinition: 'sleeper' },
        TimeoutSeconds: 1,
        End: true,
      },
    },
  } as unknown as StateMachineDefinition;
  const history = new ExecutionHistory(clock);
  const outcome = await new LocalStateMachine(definition, { clock, tokens: new TaskTokens(clock) }).run(
    {},
    {
      identity: { executionArn: 'e', name: 'e', stateMachineArn: 'm', startTime: '' },
      history,
      runTask: ({ stateName, parameters, signal }) =>
        runner.run({
          stateName,
          parameters,
          signal,
          onAttempt: (attempt) => stopped.push(attempt.exitCode),
        }) as Promise<Json>,
    },
  );
  expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
  expect(history.events.map((e) => e.type)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskTimedOut',
    'ExecutionFailed',
  ]);
  // The child was stopped, not left running: its exit (SIGTERM = 128 + 15) was recorded.
  await runner.onIdle();
  expect(stopped).toEqual([143]);
});

test("a stopped task that ignores SIGTERM gets SIGKILL after its container's stopTimeout, on the clock", async () => {
  const clock = new VirtualClock(0);
  const lines: string[] = [];
  const worker =
    "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); setInterval(() => {}, 1000);";
  const runner = runnerOf('stubborn', [process.execPath, '-e', worker], (line) => lines.push(line), clock, 2);
  const stop = new AbortController();
  const attempts: Array<{ exitCode?: number | null; stopCode?: string }> = [];
  const run = runner.run({
    stateName: 'Run',
    parameters: { TaskDefinition: 'stubborn' },
    signal: stop.signal,
    onAttempt: ({ exitCode, stopCode }) => attempts.push({ exitCode, stopCode }),
  });
  run.catch(() => undefined);
  await until(() => lines.includes('ready'));
  // WHEN Step Functions stops it (the execution was stopped)
  stop.abort(new Error('StopExecution'));
  await until(() => lines.includes('ignoring SIGTERM'));
  // THEN it still runs until 2 s (its stopTimeout) have passed on the clock, then is killed
  await clock.advance(1_999);
  expect(runner.runningTasks).toBe(1);
  await clock.advance(1);
  await expect(run).rejects.toMatchObject({ name: 'States.TaskFailed' });
  expect(attempts).toEqual([{ exitCode: 137, stopCode: 'UserInitiated' }]);
});

/** Resolves once `condition` holds (a child process's output arrives in its own time). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('a shell command (--task-command) is stopped as a container: SIGTERM reaches the process it started', async () => {
  const lines: string[] = [];
  const worker =
    "process.on('SIGTERM', () => { console.log('worker got SIGTERM'); process.exit(143); }); " +
    "console.log('started'); setInterval(() => {}, 1000);";
  // GIVEN a shell that runs the worker as its child (a compound command: the shell cannot exec it)
  const runner = runnerOf(
    'shell',
    ['/bin/sh', '-c', `echo starting; "${process.execPath}" -e "${worker}"; echo never`],
    (line) => lines.push(line),
  );
  const attempts: Array<number | null | undefined> = [];
  // WHEN the state times out (Step Functions stops the task)
  const stop = new AbortController();
  const run = runner.run({
    stateName: 'Run',
    parameters: { TaskDefinition: 'shell' },
    signal: stop.signal,
    onAttempt: (attempt) => attempts.push(attempt.exitCode),
  });
  await until(() => lines.includes('started'));
  stop.abort(new StatesError('States.Timeout', ''));
  // THEN the worker itself got SIGTERM, and the task failed with the container's 143
  await expect(run).rejects.toMatchObject({ name: 'States.Timeout' });
  expect(lines).toEqual(['starting', 'started', 'worker got SIGTERM']);
  expect(attempts).toEqual([143]);
});

test('task, cluster and container ARNs are in the partition of the region', async () => {
  const runner = new LocalEcsTaskRunner({
    taskDefinitions: [
      {
        logicalId: 'T',
        family: 'quick',
        arn: 'arn:aws-cn:ecs:cn-north-1:000000000000:task-definition/quick:1',
        containers: [{ name: 'worker', essential: true, environment: [], stopTimeoutSeconds: 30 }],
      },
    ],
    command: [process.execPath, '-e', ''],
    baseEnvironment: {},
    partition: 'aws-cn',
    region: 'cn-north-1',
    accountId: '000000000000',
  });
  const description = await runner.run({
    stateName: 'Run',
    parameters: { Cluster: 'pipeline', TaskDefinition: 'quick' },
  });
  const arns = [
    description.TaskArn,
    description.ClusterArn,
    ...(description.Containers as Array<{ ContainerArn: string }>).map((c) => c.ContainerArn),
  ];
  expect(arns).toEqual([
    expect.stringMatching(/^arn:aws-cn:ecs:cn-north-1:000000000000:task\/pipeline\/[0-9a-f]{32}$/),
    'arn:aws-cn:ecs:cn-north-1:000000000000:cluster/pipeline',
    expect.stringMatching(/^arn:aws-cn:ecs:cn-north-1:000000000000:container\//),
  ]);
});

test('a shell command (--task-command) gets exactly the environment the bundled worker gets', async () => {
  const printEnvironment = 'console.log(JSON.stringify(process.env))';
  const environmentOf = async (command: string[]) => {
    const lines: string[] = [];
    await runnerOf('env', command, (line) => lines.push(line)).run({
      stateName: 'Run',
      parameters: {
        TaskDefinition: 'env',
        Overrides: {
          ContainerOverrides: [{ Name: 'worker', Environment: [{ Name: 'KEY', Value: 'a b+c%2B.txt' }] }],
        },
      },
    });
    return JSON.parse(lines[0]) as Record<string, string>;
  };
  // GIVEN the bundled worker's way (node started directly) and a --task-command's (through /bin/sh)
  const direct = await environmentOf([process.execPath, '-e', printEnvironment]);
  const { PWD, ...throughShell } = await environmentOf([
    '/bin/sh',
    '-c',
    `"${process.execPath}" -e "${printEnvironment}"`,
  ]);
  // THEN both see the same variables (the shell adds only its working directory)
  expect(PWD).toBeDefined();
  expect(throughShell).toEqual(direct);
  expect(direct).toMatchObject({
    KEY: 'a b+c%2B.txt',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
  });
  expect(Object.keys(direct)).not.toContain('HOME');
});
