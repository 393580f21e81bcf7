process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';

import { AutoClock } from '../../../local/clock';
import { CloudFormationApi } from '../../../local/cloudformation/stack-api';
import { type CfnTemplate, deployLocally } from '../../../local/cloudformation/template';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import { loadStateMachines } from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { redrive } from '../../../shared/commands/redrive';
import { restartExecutionName } from '../../../shared/redrive';
import { STACK_NAME } from '../../../shared/stack-name';
import { startTestEndpoint, testClientOptions } from '../support/test-endpoint';

/**
 * `npm run redrive` against the local endpoint (Step Functions and CloudFormation behind it, SDK v3
 * clients as the command makes them) on a backfill run that was stopped half-way: its failed and
 * aborted objects are restarted in the event-driven workflow; the run is redriven (its Map Run starts
 * the objects it never started, and reruns no object that succeeded) unless that would resume an
 * aborted object in place. The workflow is the project's in small: a task whose failure is caught
 * into a Fail state. On a virtual clock; each task takes 10 s of it.
 */

const ECS = 'arn:aws:states:::ecs:runTask.sync';
const KEYS = Array.from({ length: 10 }, (_, i) => `incoming/k${i}`);

const processObject = {
  StartAt: 'RunWorker',
  States: {
    RunWorker: {
      Type: 'Task',
      Resource: ECS,
      Parameters: { 'key.$': '$.key' },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ObjectFailed' }],
      Next: 'ObjectProcessed',
    },
    ObjectProcessed: { Type: 'Succeed' },
    ObjectFailed: { Type: 'Fail', Error: 'WorkerFailed', Cause: 'the worker exited 1' },
  },
};
const template = {
  Resources: {
    Workflow: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { DefinitionString: JSON.stringify(processObject) },
    },
    Backfill: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        DefinitionString: JSON.stringify({
          StartAt: 'ForEachExistingObject',
          States: {
            ForEachExistingObject: {
              Type: 'Map',
              ItemsPath: '$.items',
              ItemSelector: { bucket: 'data', 'key.$': '$$.Map.Item.Value' },
              MaxConcurrency: 1,
              ToleratedFailurePercentage: 10,
              ItemProcessor: {
                ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
                ...processObject,
              },
              ResultPath: null,
              End: true,
            },
          },
        }),
      },
    },
  },
  Outputs: {
    StateMachineArn: { Value: { Ref: 'Workflow' } },
    BackfillStateMachineArn: { Value: { Ref: 'Backfill' } },
  },
} as unknown as CfnTemplate;

interface Stopped {
  readonly stepFunctions: LocalStepFunctions;
  readonly workflowArn: string;
  readonly runArn: string;
  /** The run's children, in start order. */
  readonly children: ReturnType<LocalStepFunctions['executions']>;
  /** Task launches, by key. */
  readonly launches: Map<string, number>;
  /** The command against the endpoint: its exit code and lines. */
  redrive(): Promise<{ code: number; lines: string[] }>;
  describe(executionArn: string): Promise<Record<string, unknown>>;
}

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0)) await close();
});

/**
 * A backfill run of the ten keys, on the endpoint, stopped (StopExecution) when `stopAt` says, with
 * k1's worker failing (1 in 10: within the run's 10%); then k1's worker is fixed.
 */
async function stoppedRun(stopAt: {
  readonly key: string;
  readonly when: 'running' | 'ended';
}): Promise<Stopped> {
  const clock = new AutoClock(Date.UTC(2026, 11, 1));
  const deployment = deployLocally(template, { region: 'us-east-1' });
  const [workflow, backfill] = loadStateMachines(deployment);
  const broken = new Set(['incoming/k1']);
  const launches = new Map<string, number>();
  let runArn = '';
  const stop = () => stepFunctions.stopExecution(runArn);
  const stepFunctions: LocalStepFunctions = new LocalStepFunctions({
    clock,
    stateMachines: [workflow, backfill],
    runTask: async ({ parameters, signal }) => {
      const { key } = parameters as { key: string };
      launches.set(key, (launches.get(key) ?? 0) + 1);
      if (stopAt.when === 'running' && key === stopAt.key && launches.get(key) === 1)
        void clock.sleep(5_000).then(stop);
      await clock.sleep(10_000, signal);
      if (broken.has(key)) throw new StatesError('States.TaskFailed', `worker for ${key} exited 1`);
      return { key };
    },
    // Between two children: the one that ended is done, the next not started.
    onExecutionFinished: async (record) => {
      if (stopAt.when === 'ended' && record.key === stopAt.key && record.redriveCount === 0) stop();
    },
  });
  const endpoint = await startTestEndpoint(
    stepFunctions.api,
    new CloudFormationApi(deployment, STACK_NAME, new Date(clock.now())),
  );
  const aws = testClientOptions(endpoint);
  const sfn = new SFNClient(aws);
  opened.push(async () => {
    sfn.destroy();
    await endpoint.close();
  });

  const run = stepFunctions.startExecution(backfill, { prefix: 'incoming/', items: KEYS }, { name: 'run' });
  runArn = run.executionArn;
  await stepFunctions.onIdle();
  expect(run.status).toBe('ABORTED');
  broken.clear();
  return {
    stepFunctions,
    workflowArn: workflow.arn,
    runArn,
    children: stepFunctions.executions().filter((e) => e.parentExecutionArn === runArn),
    launches,
    async redrive() {
      const lines: string[] = [];
      const code = await redrive(['--since', '2026-11-30T00:00:00Z'], (line) => lines.push(line), aws);
      await stepFunctions.onIdle();
      return { code, lines };
    },
    describe: async (executionArn) => ({
      ...(await sfn.send(new DescribeExecutionCommand({ executionArn }))),
    }),
  };
}

const restartOf = (workflowArn: string, failed: { executionArn: string; name: string }) =>
  `${workflowArn.replace(':stateMachine:', ':execution:')}:${restartExecutionName(failed.executionArn, failed.name)}`;

test('a run stopped between two objects: its failed object restarted, the run redriven (its Map Run starts the rest), nothing run twice', async () => {
  const stopped = await stoppedRun({ key: 'incoming/k2', when: 'ended' });
  const [k0, k1, k2] = stopped.children;
  expect(stopped.children.map((child) => [child.key, child.status])).toEqual([
    ['incoming/k0', 'SUCCEEDED'],
    ['incoming/k1', 'FAILED'],
    ['incoming/k2', 'SUCCEEDED'],
  ]);

  const { code, lines } = await stopped.redrive();
  expect(code).toBe(0);
  expect(lines).toEqual([
    `${'restarted'.padEnd(17)}  incoming/k1  ${k1.executionArn} -> ${restartOf(stopped.workflowArn, k1)}`,
    `${'redriven'.padEnd(17)}  incoming/  ${stopped.runArn}  (its Map Run starts the 7 objects it never started)`,
    '2 failed executions: 1 restarted, 1 redriven since 2026-11-30T00:00:00.000Z',
  ]);
  expect(await stopped.describe(restartOf(stopped.workflowArn, k1))).toMatchObject({ status: 'SUCCEEDED' });
  // Its Map Run tolerated k1 (its redrive reran only k1's Fail state): 1 of 10 is 10%.
  expect(await stopped.describe(stopped.runArn)).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
  expect(await stopped.describe(k1.executionArn)).toMatchObject({
    status: 'FAILED',
    error: 'WorkerFailed',
    redriveCount: 1,
  });
  expect([k0, k2].map((child) => child.redriveCount)).toEqual([0, 0]);
  // Each object's worker ran to success once: k1 in its restart.
  expect(Object.fromEntries(stopped.launches)).toEqual({
    ...Object.fromEntries(KEYS.map((key) => [key, 1])),
    'incoming/k1': 2,
  });

  // Run again: nothing left to do.
  expect(await stopped.redrive()).toEqual({
    code: 0,
    lines: [expect.stringMatching(/^0 failed executions since /)],
  });
});

test('a run stopped while an object ran: both objects restarted; the run not redriven (it would resume the aborted one past the launch gate), exit 1', async () => {
  const stopped = await stoppedRun({ key: 'incoming/k3', when: 'running' });
  const [, k1, , k3] = stopped.children;
  expect(stopped.children.map((child) => child.status)).toEqual([
    'SUCCEEDED',
    'FAILED',
    'SUCCEEDED',
    'ABORTED',
  ]);
  // A redrive would resume k3 where it was stopped: in its task, whose slot is gone.
  expect(k3.failedState?.name).toBe('RunWorker');

  const { code, lines } = await stopped.redrive();
  expect(code).toBe(1);
  expect(lines).toEqual([
    `${'restarted'.padEnd(17)}  incoming/k1  ${k1.executionArn} -> ${restartOf(stopped.workflowArn, k1)}`,
    `${'restarted'.padEnd(17)}  incoming/k3  ${k3.executionArn} -> ${restartOf(stopped.workflowArn, k3)}`,
    `${'not redriven'.padEnd(17)}  incoming/  ${stopped.runArn}  (the backfill run cannot be redriven ` +
      '(its Map Run left 6 objects unstarted, and would resume 1 aborted or timed-out objects past the launch gate): ' +
      'start a new one for the objects it did not process (npm run backfill))',
    '3 failed executions: 2 restarted, 1 not redriven since 2026-11-30T00:00:00.000Z',
  ]);
  expect(await stopped.describe(stopped.runArn)).toMatchObject({ status: 'ABORTED', redriveCount: 0 });
  expect(Object.fromEntries(stopped.launches)).toEqual({
    'incoming/k0': 1,
    'incoming/k1': 2,
    'incoming/k2': 1,
    'incoming/k3': 2,
  });
});
