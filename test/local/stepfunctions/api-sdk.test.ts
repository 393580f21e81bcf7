process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';

import { VirtualClock } from '../../../local/clock';
import type { LocalEndpoint } from '../../../local/endpoint/server';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import type {
  LocalStateMachineResource,
  StateMachineDefinition,
} from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { startTestEndpoint, testClientOptions } from '../support/test-endpoint';

/**
 * The Step Functions API where the local one answered otherwise than AWS, through the SDK v3 client
 * against the endpoint, on a virtual clock the test moves: each refusal as the SDK surfaces it (the
 * error's name and message), each answer's fields as the API reference has them.
 */

const ACCOUNT = 'arn:aws:states:us-east-1:000000000000';
const ECS = 'arn:aws:states:::ecs:runTask.sync';
const START = Date.UTC(2026, 11, 1);

/** A task that runs `seconds` on the clock; a negative number fails it. */
const work: LocalStateMachineResource = {
  logicalId: 'Work',
  arn: `${ACCOUNT}:stateMachine:Work`,
  roleArn: 'arn:aws:iam::000000000000:role/WorkRole',
  definition: {
    StartAt: 'Run',
    States: { Run: { Type: 'Task', Resource: ECS, Parameters: { 'seconds.$': '$.seconds' }, End: true } },
  } as unknown as StateMachineDefinition,
};
const processor = {
  ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
  StartAt: 'Run',
  States: { Run: { Type: 'Task', Resource: ECS, Parameters: { 'seconds.$': '$' }, End: true } },
};
const fan: LocalStateMachineResource = {
  logicalId: 'Fan',
  arn: `${ACCOUNT}:stateMachine:Fan`,
  roleArn: 'arn:aws:iam::000000000000:role/FanRole',
  definition: {
    StartAt: 'Each',
    States: {
      Each: { Type: 'Map', Label: 'Items', ItemsPath: '$.items', ItemProcessor: processor, End: true },
    },
  } as unknown as StateMachineDefinition,
};
const express: LocalStateMachineResource = {
  logicalId: 'Quick',
  arn: `${ACCOUNT}:stateMachine:Quick`,
  type: 'EXPRESS',
  definition: {
    StartAt: 'Look',
    States: { Look: { Type: 'Pass', Result: { looked: true }, End: true } },
  } as unknown as StateMachineDefinition,
};
/** A Standard parent that waits for an Express child (`startExecution.sync:2`). */
const parent: LocalStateMachineResource = {
  logicalId: 'Parent',
  arn: `${ACCOUNT}:stateMachine:Parent`,
  definition: {
    StartAt: 'Child',
    States: {
      Child: {
        Type: 'Task',
        Resource: 'arn:aws:states:::states:startExecution.sync:2',
        Parameters: { StateMachineArn: express.arn },
        OutputPath: '$.Output',
        End: true,
      },
    },
  } as unknown as StateMachineDefinition,
};

let clock: VirtualClock;
let endpoint: LocalEndpoint;
let sfn: SFNClient;

beforeEach(async () => {
  clock = new VirtualClock(START);
  const stepFunctions = new LocalStepFunctions({
    clock,
    stateMachines: [work, fan, express, parent],
    runTask: async ({ parameters, signal }) => {
      const { seconds } = parameters as { seconds: number };
      await clock.sleep(Math.abs(seconds) * 1000, signal);
      if (seconds < 0) throw new StatesError('States.TaskFailed', 'exit code 1');
      return { ran: seconds };
    },
  });
  endpoint = await startTestEndpoint(stepFunctions.api);
  sfn = new SFNClient({ ...testClientOptions(endpoint), maxAttempts: 1 });
});

afterEach(async () => {
  sfn.destroy();
  await endpoint.close();
});

/** The SDK's error for a refused call: its name (the code) and message. */
async function refusal(
  promise: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  const error = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as { name: string; message: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (!error) throw new Error('the call succeeded; a refusal was expected');
  return { name: error.name, message: error.message, status: error.$metadata?.httpStatusCode };
}

const start = (name: string, input: unknown, stateMachineArn = work.arn) =>
  sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));

test("a state machine's creationDate is when it was created, not when it is asked about", async () => {
  const listed = await sfn.send(new ListStateMachinesCommand({}));
  await clock.advance(3_600_000);
  const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: work.arn }));
  expect(listed.stateMachines?.map((machine) => machine.creationDate)).toEqual(
    Array(4).fill(new Date(START)),
  );
  expect(described.creationDate).toEqual(new Date(START));
});

test('StartExecution: a name past 80 characters is a ValidationException, bad characters InvalidName, reuse ExecutionAlreadyExists naming the ARN', async () => {
  expect(await refusal(start('a'.repeat(81), { seconds: 1 }))).toEqual({
    name: 'ValidationException',
    message: `1 validation error detected: Value '${'a'.repeat(81)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80`,
    status: 400,
  });
  expect(await refusal(start('a\uD800b', { seconds: 1 }))).toMatchObject({ name: 'InvalidName' });
  expect(await refusal(start('a\uFFFEb', { seconds: 1 }))).toMatchObject({ name: 'InvalidName' });
  const { executionArn } = await start('a'.repeat(80), { seconds: 10 });
  // While it runs, the same name and input is the same execution; another input is refused.
  expect((await start('a'.repeat(80), { seconds: 10 })).executionArn).toBe(executionArn);
  expect(await refusal(start('a'.repeat(80), { seconds: 11 }))).toEqual({
    name: 'ExecutionAlreadyExists',
    message: `Execution Already Exists: '${executionArn}'`,
    status: 400,
  });
  await clock.runAll();
  // Ended, even the same input is refused.
  expect(await refusal(start('a'.repeat(80), { seconds: 10 }))).toMatchObject({
    name: 'ExecutionAlreadyExists',
  });
});

test('ListExecutions: redriveFilter; PENDING_REDRIVE needs a Map Run; an EXPRESS state machine is refused', async () => {
  const { executionArn: failed } = await start('failed', { seconds: -1 });
  await clock.advance(1000);
  await start('fine', { seconds: 1 });
  await clock.runAll();
  await sfn.send(new RedriveExecutionCommand({ executionArn: failed }));
  await clock.runAll();
  const names = async (redriveFilter: 'REDRIVEN' | 'NOT_REDRIVEN') =>
    (await sfn.send(new ListExecutionsCommand({ stateMachineArn: work.arn, redriveFilter }))).executions?.map(
      (execution) => [execution.name, execution.redriveCount],
    );
  expect(await names('REDRIVEN')).toEqual([['failed', 1]]);
  expect(await names('NOT_REDRIVEN')).toEqual([['fine', 0]]);

  expect(
    await refusal(
      sfn.send(new ListExecutionsCommand({ stateMachineArn: work.arn, statusFilter: 'PENDING_REDRIVE' })),
    ),
  ).toMatchObject({ name: 'ValidationException', status: 400 });
  expect(
    await refusal(
      sfn.send(new ListExecutionsCommand({ stateMachineArn: work.arn, redriveFilter: 'SOME' as never })),
    ),
  ).toEqual({
    name: 'ValidationException',
    message:
      "1 validation error detected: Value 'SOME' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
    status: 400,
  });
  expect(
    await refusal(sfn.send(new ListExecutionsCommand({ stateMachineArn: work.arn, maxResults: 1001 }))),
  ).toMatchObject({
    name: 'ValidationException',
    message:
      "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
  });
  expect(await refusal(sfn.send(new ListExecutionsCommand({ stateMachineArn: express.arn })))).toMatchObject({
    name: 'StateMachineTypeNotSupported',
    status: 400,
  });
});

test("DescribeStateMachineForExecution: the execution's state machine; for a Map Run's child, the Map's processor with its Map Run and label", async () => {
  const { executionArn } = await start('one', { seconds: 1 });
  expect(await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn }))).toMatchObject({
    stateMachineArn: work.arn,
    name: 'Work',
    definition: JSON.stringify(work.definition),
    roleArn: work.roleArn,
    updateDate: new Date(START),
  });
  const run = await start('run', { items: [1, 2] }, fan.arn);
  await clock.runAll();
  const [mapRun] = (await sfn.send(new ListMapRunsCommand({ executionArn: run.executionArn }))).mapRuns ?? [];
  const [child] =
    (await sfn.send(new ListExecutionsCommand({ mapRunArn: mapRun.mapRunArn }))).executions ?? [];
  const described = await sfn.send(
    new DescribeStateMachineForExecutionCommand({ executionArn: child.executionArn }),
  );
  expect(described).toMatchObject({
    stateMachineArn: `${fan.arn}/Items`,
    name: 'Fan/Items',
    definition: JSON.stringify(processor),
    roleArn: fan.roleArn,
    mapRunArn: mapRun.mapRunArn,
    label: 'Items',
  });
  expect(
    await refusal(
      sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn: `${executionArn}-missing` })),
    ),
  ).toMatchObject({ name: 'ExecutionDoesNotExist' });
});

test('an Express execution a Map Run did not start: DescribeExecution and StopExecution refuse its ARN; startExecution.sync still reads its outcome', async () => {
  const { executionArn } = await start('quick', {}, express.arn);
  for (const call of [
    sfn.send(new DescribeExecutionCommand({ executionArn })),
    sfn.send(new StopExecutionCommand({ executionArn })),
  ]) {
    expect(await refusal(call)).toEqual({
      name: 'InvalidArn',
      message: "Invalid Arn: 'Resource type not valid in this context: express'",
      status: 400,
    });
  }
  const waited = await start('waits', {}, parent.arn);
  await clock.runAll();
  expect(await sfn.send(new DescribeExecutionCommand({ executionArn: waited.executionArn }))).toMatchObject({
    status: 'SUCCEEDED',
    output: '{"looked":true}',
  });
});

test("a request without a required member is refused before the action runs, as AWS's validation does", async () => {
  expect(
    await refusal(sfn.send(new DescribeExecutionCommand({ executionArn: undefined as unknown as string }))),
  ).toEqual({
    name: 'ValidationException',
    message:
      "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null",
    status: 400,
  });
});

describe("a Map Run's children", () => {
  /** A Map of three children at once; `tolerated` failures allowed. */
  const mapOf = (tolerated: number): LocalStateMachineResource => ({
    logicalId: `Map${tolerated}`,
    arn: `${ACCOUNT}:stateMachine:Map${tolerated}`,
    definition: {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          MaxConcurrency: 3,
          ToleratedFailureCount: tolerated,
          ItemProcessor: processor,
          End: true,
        },
      },
    } as unknown as StateMachineDefinition,
  });

  async function run(tolerated: number, items: number[]) {
    const machine = mapOf(tolerated);
    const local = new LocalStepFunctions({
      clock,
      stateMachines: [machine],
      runTask: async ({ parameters, signal }) => {
        const { seconds } = parameters as { seconds: number };
        await clock.sleep(Math.abs(seconds) * 1000, signal);
        if (seconds < 0) throw new StatesError('States.TaskFailed', 'exit code 1');
        return { ran: seconds };
      },
    });
    endpoint.register(local.api);
    const { executionArn } = await start('run', { items }, machine.arn);
    await clock.runAll();
    const [{ mapRunArn }] = (await sfn.send(new ListMapRunsCommand({ executionArn }))).mapRuns ?? [];
    const children = (await sfn.send(new ListExecutionsCommand({ mapRunArn }))).executions ?? [];
    const described = await Promise.all(
      children.map((child) => sfn.send(new DescribeExecutionCommand({ executionArn: child.executionArn }))),
    );
    const byItem = new Map(described.map((child) => [JSON.parse(child.input!) as number, child]));
    return { executionArn, mapRun: await sfn.send(new DescribeMapRunCommand({ mapRunArn })), byItem };
  }

  test('a Map Run that fails stops its children still running: ABORTED when it failed', async () => {
    const { mapRun, byItem } = await run(0, [-1, 10, 20]);
    expect(mapRun).toMatchObject({
      status: 'FAILED',
      stopDate: new Date(START + 1000),
      executionCounts: { total: 3, failed: 1, aborted: 2, running: 0, succeeded: 0 },
    });
    expect([-1, 10, 20].map((item) => [byItem.get(item)?.status, byItem.get(item)?.stopDate])).toEqual([
      ['FAILED', new Date(START + 1000)],
      ['ABORTED', new Date(START + 1000)],
      ['ABORTED', new Date(START + 1000)],
    ]);
    // Its parent failed: a redrive of it redrives this Map Run, and so these children.
    expect(byItem.get(10)).toMatchObject({ redriveStatus: 'REDRIVABLE_BY_MAP_RUN' });
  });

  test('a failed child of a Map Run that succeeded is NOT_REDRIVABLE: no redrive runs it again', async () => {
    const { mapRun, byItem } = await run(1, [-1, 2, 3]);
    const listed = await sfn.send(new ListExecutionsCommand({ mapRunArn: mapRun.mapRunArn }));
    expect(listed.executions?.map((child) => child.itemCount)).toEqual([1, 1, 1]);
    expect(mapRun).toMatchObject({
      status: 'SUCCEEDED',
      executionCounts: { failed: 1, succeeded: 2, failuresNotRedrivable: 1 },
    });
    expect(byItem.get(-1)).toMatchObject({
      status: 'FAILED',
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
    });
  });
});
