process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';

import { AutoClock } from '../../../local/clock';
import { CloudFormationApi } from '../../../local/cloudformation/stack-api';
import { type CfnTemplate, deployLocally } from '../../../local/cloudformation/template';
import { startLocalEndpoint } from '../../../local/endpoint/server';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import { loadStateMachines } from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { redrive } from '../../../shared/commands/redrive';
import { restartExecutionName } from '../../../shared/redrive';
import { STACK_NAME } from '../../../shared/stack-name';

/**
 * `npm run redrive` against the local endpoint (Step Functions and CloudFormation behind it, SDK v3
 * clients as the command makes them) on a backfill run that was stopped half-way: its failed object
 * is restarted in the event-driven workflow; the run is redriven, so its Map Run reruns the aborted
 * object under its execution and starts the objects it never started, and reruns no object that
 * succeeded. The workflow is the project's in small: a task whose failure is caught into a Fail state.
 */

const ECS = 'arn:aws:states:::ecs:runTask.sync';
const KEY = { accessKeyId: 'AKIALOCALTEST', secretAccessKey: 'local-secret' };
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

test('a stopped backfill run: its failed object restarted, the run redriven (aborted object rerun, unstarted ones started), nothing run twice', async () => {
  const clock = new AutoClock(Date.UTC(2026, 11, 1));
  const deployment = deployLocally(template, { region: 'us-east-1' });
  const [workflow, backfill] = loadStateMachines(deployment);
  const broken = new Set(['incoming/k1']);
  const launches = new Map<string, number>();
  let runArn = '';
  const stepFunctions = new LocalStepFunctions({
    clock,
    stateMachines: [workflow, backfill],
    runTask: async ({ parameters, signal }) => {
      const { key } = parameters as { key: string };
      launches.set(key, (launches.get(key) ?? 0) + 1);
      // The run is stopped (StopExecution) 5 s into k3's first task.
      if (key === 'incoming/k3' && launches.get(key) === 1)
        void clock.sleep(5_000).then(() => stepFunctions.stopExecution(runArn));
      await clock.sleep(10_000, signal);
      if (broken.has(key)) throw new StatesError('States.TaskFailed', `worker for ${key} exited 1`);
      return { key };
    },
  });
  const endpoint = await startLocalEndpoint({ port: 0 });
  endpoint.authorizeWith({
    secretOf: (id) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined),
    authorize: async () => undefined,
  });
  endpoint.register(stepFunctions.api);
  endpoint.register(new CloudFormationApi(deployment, STACK_NAME, new Date(clock.now())));
  const aws = { endpoint: endpoint.url, region: 'us-east-1', credentials: KEY };
  const sfn = new SFNClient(aws);
  try {
    const run = stepFunctions.startExecution(backfill, { prefix: 'incoming/', items: KEYS }, { name: 'run' });
    runArn = run.executionArn;
    await stepFunctions.onIdle();
    expect(run.status).toBe('ABORTED');
    const [k0, k1, k2, k3] = stepFunctions.executions().filter((e) => e.parentExecutionArn === runArn);
    expect([k0, k1, k2, k3].map((child) => [child.key, child.status])).toEqual([
      ['incoming/k0', 'SUCCEEDED'],
      ['incoming/k1', 'FAILED'],
      ['incoming/k2', 'SUCCEEDED'],
      ['incoming/k3', 'ABORTED'],
    ]);

    // The cause fixed, `npm run redrive`.
    broken.clear();
    const since = ['--since', '2026-11-30T00:00:00Z'];
    const lines: string[] = [];
    expect(await redrive(since, (line) => lines.push(line), aws)).toBe(0);
    await stepFunctions.onIdle();

    const restart = `${workflow.arn.replace(':stateMachine:', ':execution:')}:${restartExecutionName(k1.executionArn, k1.name)}`;
    expect(lines).toEqual([
      `${'restarted'.padEnd(17)}  incoming/k1  ${k1.executionArn} -> ${restart}`,
      `${'redriven'.padEnd(17)}  incoming/  ${runArn}  (its Map Run reruns 1 aborted or timed-out objects and starts 6 it never started)`,
      '2 failed executions: 1 restarted, 1 redriven since 2026-11-30T00:00:00.000Z',
    ]);
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: restart }))).toMatchObject({
      status: 'SUCCEEDED',
    });
    // The run's Map Run tolerated k1 (its redrive reran only k1's Fail state): 1 of 10 is 10%.
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: runArn }))).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
    });
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: k3.executionArn }))).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
    });
    expect(await sfn.send(new DescribeExecutionCommand({ executionArn: k1.executionArn }))).toMatchObject({
      status: 'FAILED',
      error: 'WorkerFailed',
      redriveCount: 1,
    });
    // Each object's worker ran once to success: k1 in its restart, k3 in its redriven execution.
    expect(Object.fromEntries(launches)).toEqual({
      ...Object.fromEntries(KEYS.map((key) => [key, 1])),
      'incoming/k1': 2,
      'incoming/k3': 2,
    });

    // Run again: nothing left to do.
    const second: string[] = [];
    expect(await redrive(since, (line) => second.push(line), aws)).toBe(0);
    expect(second).toEqual([expect.stringMatching(/^0 failed executions since /)]);
  } finally {
    sfn.destroy();
    await endpoint.close();
  }
});
