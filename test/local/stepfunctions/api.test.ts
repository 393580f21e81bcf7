import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AwsServiceError } from '../../../local/aws-service';
import { AutoClock } from '../../../local/clock';
import { StepFunctionsApi } from '../../../local/stepfunctions/api';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import type {
  LocalStateMachineResource,
  StateMachineDefinition,
} from '../../../local/stepfunctions/definitions';
import { ExecutionJournal } from '../../../local/stepfunctions/execution-journal';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import type { StatusChangeEvent } from '../../../local/stepfunctions/status-change-event';

/**
 * The Step Functions API, called as the endpoint calls it (`api.call(action, request)`), on the
 * engine with a clock that moves by itself and a modelled ECS task: shapes and error codes as the
 * API reference has them.
 */

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Work';
const MAP_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Fan';
const ECS = 'arn:aws:states:::ecs:runTask.sync';
const definition = {
  StartAt: 'Run',
  States: {
    Run: { Type: 'Task', Resource: ECS, Parameters: { 'seconds.$': '$.seconds' }, End: true },
  },
} as unknown as StateMachineDefinition;
const fan = {
  StartAt: 'Each',
  States: {
    Each: {
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrency: 2,
      ToleratedFailureCount: 1,
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Run',
        States: { Run: { Type: 'Task', Resource: ECS, Parameters: { 'seconds.$': '$' }, End: true } },
      },
      End: true,
    },
  },
} as unknown as StateMachineDefinition;

function setUp() {
  const clock = new AutoClock(Date.UTC(2026, 11, 1));
  const events: StatusChangeEvent[] = [];
  const signals: AbortSignal[] = [];
  const stepFunctions = new LocalStepFunctions({
    clock,
    onStatusChange: (event) => events.push(event),
    // A task that runs `seconds` on the clock; a negative number fails it.
    runTask: async ({ parameters, signal }) => {
      signals.push(signal);
      const seconds = Number((parameters as { seconds: number }).seconds);
      await clock.sleep(Math.abs(seconds) * 1000, signal);
      if (seconds < 0) throw new StatesError('States.TaskFailed', 'exit code 1');
      return { ran: seconds };
    },
  });
  const machines: LocalStateMachineResource[] = [
    { logicalId: 'Work', arn: ARN, definition, roleArn: 'arn:aws:iam::000000000000:role/R' },
    { logicalId: 'Fan', arn: MAP_ARN, definition: fan },
  ];
  const api = new StepFunctionsApi(stepFunctions, machines);
  return { clock, api, stepFunctions, events, signals };
}

const refusal = (code: string, message?: RegExp) =>
  expect.objectContaining({
    code,
    statusCode: 400,
    ...(message && { message: expect.stringMatching(message) }),
  });

test('ListStateMachines and DescribeStateMachine', async () => {
  const { api } = setUp();
  expect(await api.call('ListStateMachines', {})).toEqual({
    stateMachines: [
      { stateMachineArn: ARN, name: 'Work', type: 'STANDARD', creationDate: expect.any(Number) },
      { stateMachineArn: MAP_ARN, name: 'Fan', type: 'STANDARD', creationDate: expect.any(Number) },
    ],
  });
  expect(await api.call('DescribeStateMachine', { stateMachineArn: ARN })).toMatchObject({
    stateMachineArn: ARN,
    name: 'Work',
    status: 'ACTIVE',
    definition: JSON.stringify(definition),
    roleArn: 'arn:aws:iam::000000000000:role/R',
    type: 'STANDARD',
  });
  await expect(api.call('DescribeStateMachine', { stateMachineArn: `${ARN}x` })).rejects.toEqual(
    refusal('StateMachineDoesNotExist'),
  );
  await expect(api.call('DescribeStateMachine', { stateMachineArn: 'not-an-arn' })).rejects.toEqual(
    refusal('InvalidArn'),
  );
  await expect(api.call('CreateStateMachine', {})).rejects.toEqual(
    refusal('UnknownOperationException', /does not serve CreateStateMachine/),
  );
});

test('StartExecution: name reuse, bad names and inputs; DescribeExecution as it runs and after', async () => {
  const { api, clock, stepFunctions } = setUp();
  const started = await api.call('StartExecution', {
    stateMachineArn: ARN,
    name: 'one',
    input: '{"seconds":30}',
  });
  expect(started).toEqual({
    executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:one`,
    startDate: clock.now() / 1000,
  });
  const { executionArn } = started as { executionArn: string };
  // The same name and input while it runs: the same execution; another input: ExecutionAlreadyExists
  expect(
    await api.call('StartExecution', { stateMachineArn: ARN, name: 'one', input: '{"seconds":30}' }),
  ).toEqual(started);
  await expect(
    api.call('StartExecution', { stateMachineArn: ARN, name: 'one', input: '{"seconds":1}' }),
  ).rejects.toEqual(refusal('ExecutionAlreadyExists'));
  await expect(api.call('StartExecution', { stateMachineArn: ARN, name: 'a b' })).rejects.toEqual(
    refusal('InvalidName'),
  );
  await expect(api.call('StartExecution', { stateMachineArn: ARN, input: '{nope' })).rejects.toEqual(
    refusal('InvalidExecutionInput'),
  );
  expect(await api.call('DescribeExecution', { executionArn })).toEqual({
    executionArn,
    stateMachineArn: ARN,
    name: 'one',
    status: 'RUNNING',
    startDate: Date.UTC(2026, 11, 1) / 1000,
    input: '{"seconds":30}',
    inputDetails: { included: true },
    redriveCount: 0,
    redriveStatus: 'NOT_REDRIVABLE',
    redriveStatusReason: 'Execution is RUNNING and cannot be redriven',
  });
  await stepFunctions.onIdle();
  expect(await api.call('DescribeExecution', { executionArn })).toMatchObject({
    status: 'SUCCEEDED',
    stopDate: Date.UTC(2026, 11, 1) / 1000 + 30,
    output: '{"ran":30}',
    outputDetails: { included: true },
  });
  await expect(api.call('DescribeExecution', { executionArn: `${executionArn}x` })).rejects.toEqual(
    refusal('ExecutionDoesNotExist'),
  );
  await expect(api.call('DescribeExecution', { executionArn: ARN })).rejects.toEqual(refusal('InvalidArn'));
});

test('StopExecution: ABORTED at once, the task signalled, a status-change event in AWS shape', async () => {
  const { api, stepFunctions, events, signals } = setUp();
  const { executionArn } = (await api.call('StartExecution', {
    stateMachineArn: ARN,
    name: 'long',
    input: '{"seconds":3600}',
  })) as { executionArn: string };
  await new Promise((resolve) => setImmediate(resolve));
  expect(await api.call('StopExecution', { executionArn, error: 'Operator', cause: 'enough' })).toEqual({
    stopDate: expect.any(Number),
  });
  await stepFunctions.onIdle();
  expect(signals[0].aborted).toBe(true);
  expect(await api.call('DescribeExecution', { executionArn })).toMatchObject({
    status: 'ABORTED',
    error: 'Operator',
    cause: 'enough',
    redriveStatus: 'REDRIVABLE',
  });
  expect(events.map((e) => e.detail.status)).toEqual(['RUNNING', 'ABORTED']);
  expect(events[1]).toEqual({
    version: '0',
    id: expect.any(String),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    region: 'us-east-1',
    resources: [executionArn],
    detail: {
      executionArn,
      stateMachineArn: ARN,
      name: 'long',
      status: 'ABORTED',
      startDate: Date.UTC(2026, 11, 1),
      stopDate: expect.any(Number),
      input: '{"seconds":3600}',
      output: null,
      inputDetails: { included: true },
      outputDetails: null,
      error: 'Operator',
      cause: 'enough',
      redriveCount: 0,
      redriveDate: null,
      redriveStatus: 'REDRIVABLE',
    },
  });
  const { events: history } = (await api.call('GetExecutionHistory', {
    executionArn,
    reverseOrder: true,
  })) as {
    events: Array<Record<string, unknown>>;
  };
  expect(history[0]).toMatchObject({
    type: 'ExecutionAborted',
    executionAbortedEventDetails: { error: 'Operator', cause: 'enough' },
    timestamp: expect.any(Number),
  });
});

test('ListExecutions (statusFilter, maxResults, nextToken) and GetExecutionHistory (pages, reverseOrder)', async () => {
  const { api, stepFunctions } = setUp();
  for (const [name, seconds] of [
    ['a', 1],
    ['b', -1],
    ['c', 2],
  ] as const) {
    await api.call('StartExecution', { stateMachineArn: ARN, name, input: JSON.stringify({ seconds }) });
  }
  await stepFunctions.onIdle();
  const failed = await api.call('ListExecutions', { stateMachineArn: ARN, statusFilter: 'FAILED' });
  expect((failed.executions as Array<{ name: string }>).map((e) => e.name)).toEqual(['b']);
  const first = await api.call('ListExecutions', { stateMachineArn: ARN, maxResults: 2 });
  const second = await api.call('ListExecutions', {
    stateMachineArn: ARN,
    maxResults: 2,
    nextToken: first.nextToken,
  });
  const names = [
    ...(first.executions as Array<{ name: string }>),
    ...(second.executions as Array<{ name: string }>),
  ];
  expect(names.map((e) => e.name).sort()).toEqual(['a', 'b', 'c']);
  expect(second.nextToken).toBeUndefined();
  await expect(api.call('ListExecutions', { stateMachineArn: ARN, statusFilter: 'DONE' })).rejects.toEqual(
    refusal('ValidationException'),
  );
  await expect(api.call('ListExecutions', { stateMachineArn: ARN, nextToken: 'garbage!' })).rejects.toEqual(
    refusal('InvalidToken'),
  );

  const executionArn = `${ARN.replace(':stateMachine:', ':execution:')}:b`;
  const all = (await api.call('GetExecutionHistory', { executionArn })).events as Array<
    Record<string, unknown>
  >;
  expect(all.map((e) => [e.id, e.previousEventId, e.type])).toEqual([
    [1, 0, 'ExecutionStarted'],
    [2, 1, 'TaskStateEntered'],
    [3, 2, 'TaskScheduled'],
    [4, 3, 'TaskStarted'],
    [5, 4, 'TaskFailed'],
    [6, 5, 'ExecutionFailed'],
  ]);
  expect(all[4]).toEqual({
    id: 5,
    previousEventId: 4,
    type: 'TaskFailed',
    timestamp: Date.UTC(2026, 11, 1) / 1000 + 1,
    taskFailedEventDetails: {
      resourceType: 'ecs',
      resource: 'runTask.sync',
      error: 'States.TaskFailed',
      cause: 'exit code 1',
    },
  });
  const page = await api.call('GetExecutionHistory', { executionArn, maxResults: 4, reverseOrder: true });
  expect((page.events as Array<{ id: number }>).map((e) => e.id)).toEqual([6, 5, 4, 3]);
  const rest = await api.call('GetExecutionHistory', {
    executionArn,
    maxResults: 4,
    reverseOrder: true,
    nextToken: page.nextToken,
  });
  expect((rest.events as Array<{ id: number }>).map((e) => e.id)).toEqual([2, 1]);
});

test('SendTaskSuccess/Failure/Heartbeat refuse unknown and closed tokens', async () => {
  const { api, stepFunctions } = setUp();
  await expect(api.call('SendTaskSuccess', { taskToken: 'made-up', output: '{}' })).rejects.toEqual(
    refusal('InvalidToken'),
  );
  const token = stepFunctions.tokens.issue();
  await expect(api.call('SendTaskSuccess', { taskToken: token, output: 'not json' })).rejects.toEqual(
    refusal('InvalidOutput'),
  );
  expect(await api.call('SendTaskHeartbeat', { taskToken: token })).toEqual({});
  expect(await api.call('SendTaskFailure', { taskToken: token, error: 'E', cause: 'c' })).toEqual({});
  await expect(api.call('SendTaskSuccess', { taskToken: token, output: '{}' })).rejects.toEqual(
    refusal('TaskTimedOut'),
  );
});

test('RedriveExecution: refused for a succeeded one; a failed one resumes at the failed state, same ARN', async () => {
  const { api, stepFunctions } = setUp();
  const ok = (await api.call('StartExecution', { stateMachineArn: ARN, input: '{"seconds":1}' })) as {
    executionArn: string;
  };
  const bad = (await api.call('StartExecution', { stateMachineArn: ARN, input: '{"seconds":-1}' })) as {
    executionArn: string;
  };
  await stepFunctions.onIdle();
  await expect(api.call('RedriveExecution', { executionArn: ok.executionArn })).rejects.toEqual(
    refusal('ExecutionNotRedrivable', /SUCCEEDED/),
  );
  expect(await api.call('RedriveExecution', { executionArn: bad.executionArn })).toEqual({
    redriveDate: expect.any(Number),
  });
  await stepFunctions.onIdle();
  expect(await api.call('DescribeExecution', { executionArn: bad.executionArn })).toMatchObject({
    status: 'FAILED',
    redriveCount: 1,
  });
  const types = (
    (await api.call('GetExecutionHistory', { executionArn: bad.executionArn })).events as Array<{
      type: string;
    }>
  ).map((e) => e.type);
  expect(types.slice(6)).toEqual([
    'ExecutionRedriven',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskFailed',
    'ExecutionFailed',
  ]);
});

test('a Distributed Map: ListMapRuns, DescribeMapRun, ListExecutions by mapRunArn; tolerated failures', async () => {
  const { api, stepFunctions } = setUp();
  const { executionArn } = (await api.call('StartExecution', {
    stateMachineArn: MAP_ARN,
    input: JSON.stringify({ items: [1, -2, 3, 4] }),
  })) as { executionArn: string };
  await stepFunctions.onIdle();
  expect(await api.call('DescribeExecution', { executionArn })).toMatchObject({
    status: 'SUCCEEDED',
    output: '[{"ran":1},null,{"ran":3},{"ran":4}]',
  });
  const { mapRuns } = (await api.call('ListMapRuns', { executionArn })) as {
    mapRuns: Array<{ mapRunArn: string }>;
  };
  expect(mapRuns).toEqual([
    {
      executionArn,
      mapRunArn: expect.stringMatching(
        /^arn:aws:states:us-east-1:000000000000:mapRun:Fan\/Each:[0-9a-f-]{36}$/,
      ),
      stateMachineArn: `${MAP_ARN}/Each`,
      startDate: expect.any(Number),
      stopDate: expect.any(Number),
    },
  ]);
  const { mapRunArn } = mapRuns[0];
  expect(await api.call('DescribeMapRun', { mapRunArn })).toMatchObject({
    status: 'SUCCEEDED',
    maxConcurrency: 2,
    toleratedFailureCount: 1,
    itemCounts: { total: 4, succeeded: 3, failed: 1, pending: 0, running: 0 },
  });
  const children = (await api.call('ListExecutions', { mapRunArn })).executions as Array<
    Record<string, unknown>
  >;
  expect(children).toHaveLength(4);
  expect(children.every((child) => child.mapRunArn === mapRunArn)).toBe(true);
  // Its Map Run succeeded (one failure tolerated): no redrive of the parent runs the failed child again.
  const failedChild = children.find((child) => child.status === 'FAILED')!;
  expect(await api.call('DescribeExecution', { executionArn: failedChild.executionArn })).toMatchObject({
    redriveStatus: 'NOT_REDRIVABLE',
    redriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
  });
  expect(await api.call('DescribeMapRun', { mapRunArn })).toMatchObject({
    executionCounts: { failed: 1, failuresNotRedrivable: 1 },
  });
  await expect(api.call('DescribeMapRun', { mapRunArn: `${mapRunArn}0` })).rejects.toEqual(
    refusal('ResourceNotFound'),
  );
});

test('errors are AwsServiceErrors', async () => {
  const { api } = setUp();
  await expect(api.call('DescribeExecution', {})).rejects.toBeInstanceOf(AwsServiceError);
});

test('an EXPRESS state machine: names may repeat, its ARNs are express: ones, no status-change event, no history; .sync is refused at load', async () => {
  const clock = new AutoClock(0);
  const events: StatusChangeEvent[] = [];
  const express = {
    logicalId: 'Reconciler',
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Reconciler',
    type: 'EXPRESS' as const,
    definition: {
      StartAt: 'Look',
      States: { Look: { Type: 'Pass', Result: { looked: true }, End: true } },
    } as unknown as StateMachineDefinition,
  };
  const stepFunctions = new LocalStepFunctions({
    clock,
    onStatusChange: (event) => events.push(event),
    runTask: () => Promise.reject(new Error('no ECS here')),
    stateMachines: [express],
  });
  const first = await stepFunctions.api.call('StartExecution', {
    stateMachineArn: express.arn,
    name: 'tick',
  });
  const second = await stepFunctions.api.call('StartExecution', {
    stateMachineArn: express.arn,
    name: 'tick',
  });
  expect(first.executionArn).toMatch(
    /^arn:aws:states:us-east-1:000000000000:express:Reconciler:tick:[0-9a-f-]{36}$/,
  );
  expect(second.executionArn).not.toBe(first.executionArn);
  await stepFunctions.onIdle();
  expect(stepFunctions.executions().map((e) => [e.status, e.output])).toEqual([
    ['SUCCEEDED', { looked: true }],
    ['SUCCEEDED', { looked: true }],
  ]);
  expect(events).toEqual([]);
  // As on AWS, whose record of an Express execution is CloudWatch Logs: none kept, none answered.
  expect(stepFunctions.executions().map((e) => e.history.events)).toEqual([[], []]);
  await expect(
    stepFunctions.api.call('GetExecutionHistory', { executionArn: first.executionArn }),
  ).rejects.toEqual(
    refusal('InvalidArn', /^Invalid Arn: 'Resource type not valid in this context: express'$/),
  );
  expect(
    () =>
      new LocalStepFunctions({
        clock,
        runTask: () => Promise.reject(new Error('no ECS here')),
        stateMachines: [
          {
            ...express,
            definition: {
              StartAt: 'Run',
              States: { Run: { Type: 'Task', Resource: ECS, End: true } },
            } as unknown as StateMachineDefinition,
          },
        ],
      }),
  ).toThrow(/an EXPRESS state machine supports neither .sync nor .waitForTaskToken/);
});

test('executions of an earlier run, from the journal: described, listed, their history kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'api-journal-'));
  try {
    const machines = [{ logicalId: 'Work', arn: ARN, definition }];
    const clock = new AutoClock(Date.UTC(2026, 11, 1));
    const first = new LocalStepFunctions({
      clock,
      journal: new ExecutionJournal(dir),
      stateMachines: machines,
      runTask: async () => {
        throw new StatesError('States.TaskFailed', 'exit code 1');
      },
    });
    const { executionArn } = (await first.api.call('StartExecution', {
      stateMachineArn: ARN,
      name: 'before',
      input: '{"seconds":1}',
    })) as {
      executionArn: string;
    };
    await first.onIdle();
    const history = await first.api.call('GetExecutionHistory', { executionArn });

    // A new process: only the journal remembers
    const later = new LocalStepFunctions({
      clock,
      journal: new ExecutionJournal(dir),
      stateMachines: machines,
      runTask: async () => ({ ran: 1 }),
    });
    expect(await later.api.call('GetExecutionHistory', { executionArn })).toEqual(history);
    expect(await later.api.call('DescribeExecution', { executionArn })).toMatchObject({
      status: 'FAILED',
      error: 'States.TaskFailed',
      redriveStatus: 'REDRIVABLE',
    });
    expect(
      (
        (await later.api.call('ListExecutions', { stateMachineArn: ARN })).executions as Array<{
          name: string;
        }>
      ).map((e) => e.name),
    ).toEqual(['before']);
    // the name stays taken; a redrive resumes it in the new process, at the state that failed
    await expect(later.api.call('StartExecution', { stateMachineArn: ARN, name: 'before' })).rejects.toEqual(
      refusal('ExecutionAlreadyExists'),
    );
    await later.api.call('RedriveExecution', { executionArn });
    await later.onIdle();
    expect(await later.api.call('DescribeExecution', { executionArn })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      output: '{"ran":1}',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with a journal, an ended execution's history is not held but read back from it: the same answers, a redrive in the same process", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'api-journal-'));
  try {
    let fail = true;
    const start = (journal?: ExecutionJournal) =>
      new LocalStepFunctions({
        clock: new AutoClock(Date.UTC(2026, 11, 1)),
        journal,
        stateMachines: [{ logicalId: 'Work', arn: ARN, definition }],
        runTask: async () => {
          if (fail) throw new StatesError('States.TaskFailed', 'exit code 1');
          return { ran: 1 };
        },
      });
    const held = start();
    const journaled = start(new ExecutionJournal(dir));
    const both = [held, journaled];
    const answers = (operation: string, request: Record<string, unknown>) =>
      Promise.all(both.map((stepFunctions) => stepFunctions.api.call(operation, request)));
    const [{ executionArn }] = (await answers('StartExecution', {
      stateMachineArn: ARN,
      name: 'once',
      input: '{"seconds":1}',
    })) as Array<{ executionArn: string }>;
    await Promise.all(both.map((stepFunctions) => stepFunctions.onIdle()));
    const releasedOf = () => both.map((stepFunctions) => stepFunctions.executions()[0].history.released);
    expect(releasedOf()).toEqual([false, true]);
    const same = async (operation: string, request: Record<string, unknown>) => {
      const [fromMemory, fromJournal] = await answers(operation, request);
      expect(fromJournal).toEqual(fromMemory);
      return fromJournal;
    };
    expect(await same('DescribeExecution', { executionArn })).toMatchObject({ redriveStatus: 'REDRIVABLE' });
    await same('ListExecutions', { stateMachineArn: ARN });
    const failed = (await same('GetExecutionHistory', { executionArn })).events as unknown[];
    expect(failed.length).toBeGreaterThan(3);

    // A redrive appends to the history read back, ids going on from its last one.
    fail = false;
    await answers('RedriveExecution', { executionArn });
    await Promise.all(both.map((stepFunctions) => stepFunctions.onIdle()));
    expect(releasedOf()).toEqual([false, true]);
    expect(await same('DescribeExecution', { executionArn })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
    });
    const events = (await same('GetExecutionHistory', { executionArn })).events as Array<{
      id: number;
      type: string;
    }>;
    expect(events.slice(0, failed.length)).toEqual(failed);
    expect(events[failed.length]).toMatchObject({ id: failed.length + 1, type: 'ExecutionRedriven' });
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
