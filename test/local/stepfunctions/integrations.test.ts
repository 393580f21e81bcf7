process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { GetItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

import { AwsServiceError } from '../../../local/aws-service';
import { AutoClock, type Clock, VirtualClock } from '../../../local/clock';
import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { LocalCloudWatch } from '../../../local/cloudwatch/metrics';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';
import { LocalSqs } from '../../../local/sqs/queues';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import { loadStateMachine, type StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import type { LocalServices } from '../../../local/stepfunctions/integrations';
import { LocalStateMachine } from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * Every Task state served locally, by Resource: DynamoDB against dynalite (optimized and AWS SDK),
 * SQS, the Step Functions API, CloudWatch, task tokens; and the synthesized launch gate's stale path
 * (a waiter that timed out, counted out by the releaser).
 */

const URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/Line';
const task = (resource: string, more: Record<string, unknown> = {}) => ({
  Type: 'Task',
  Resource: `arn:aws:states:::${resource}`,
  End: true,
  ...more,
});
const machine = (States: Record<string, unknown>, StartAt = Object.keys(States)[0]) =>
  ({ StartAt, States }) as unknown as StateMachineDefinition;

/** The engine for `definition` with these services, and a way to run it once. */
function engine(
  definition: StateMachineDefinition,
  services: LocalServices = {},
  clock: Clock = new VirtualClock(),
) {
  const tokens = services.tokens ?? new TaskTokens(clock);
  const local = new LocalStateMachine(definition, { clock, tokens, services: { ...services, tokens } });
  return {
    tokens,
    run: (input: Json) =>
      local.run(input, {
        identity: {
          executionArn: 'arn:aws:states:us-east-1:0:execution:M:e',
          name: 'e',
          stateMachineArn: 'arn:aws:states:us-east-1:0:stateMachine:M',
          startTime: '',
        },
        history: new ExecutionHistory(clock),
      }),
  };
}

let dynamodb: LocalDynamoDb;
let gateTemplate: string;
beforeAll(async () => {
  // The stack with 4 slots (fargateVcpuQuota 1): its table is the launch gate's.
  gateTemplate = await synthesizedTemplate({ fargateVcpuQuota: '1' });
  dynamodb = await startLocalDynamoDb(deployLocally(readTemplateFile(gateTemplate), { region: 'us-east-1' }));
});
afterAll(() => dynamodb?.close());
const tableName = () => dynamodb.tables[0].tableName;

test('a Resource nothing local serves is refused when the definition is loaded, naming the state', () => {
  expect(() => engine(machine({ Invoke: task('lambda:invoke') }))).toThrow(
    /Task state "Invoke" calls arn:aws:states:::lambda:invoke: the local Step Functions serves only ecs:runTask.sync, /,
  );
  expect(() => engine(machine({ Count: task('dynamodb:updateItem') }))).toThrow(
    /Task state "Count" calls arn:aws:states:::dynamodb:updateItem: no local DynamoDB was given to run it/,
  );
});

test('dynamodb:updateItem sends the effective Parameters to dynalite; its errors are DynamoDB.<exception>', async () => {
  const update = (id: string, extra: Record<string, unknown> = {}) =>
    task('dynamodb:updateItem', {
      Parameters: {
        TableName: tableName(),
        Key: { pk: { S: id }, sk: { S: id } },
        UpdateExpression: 'ADD demand :change',
        ExpressionAttributeValues: { ':change': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
        ...extra,
      },
      ResultSelector: { 'demand.$': 'States.StringToJson($.Attributes.demand.N)' },
    });
  const local = engine(machine({ Count: update('unit-test') }), { dynamodb: dynamodb.stepFunctionsRequests });
  const outcomes = await Promise.all([1, 2, 3].map(() => local.run({})));
  expect(outcomes.map((o) => (o.output as { demand: number }).demand).sort()).toEqual([1, 2, 3]);

  const conditional = engine(
    machine({ Count: update('absent', { ConditionExpression: 'attribute_exists(pk)' }) }),
    {
      dynamodb: dynamodb.stepFunctionsRequests,
    },
  );
  expect(await conditional.run({})).toMatchObject({
    status: 'FAILED',
    error: 'DynamoDB.ConditionalCheckFailedException',
  });
});

test('.waitForTaskToken: $$.Task.Token is in the message; SendTaskSuccess resumes the state', async () => {
  const clock = new AutoClock();
  const sqs = new LocalSqs([{ url: URL }], clock);
  const stepFunctions = new LocalStepFunctions({
    clock,
    runTask: () => Promise.reject(new Error('no ECS here')),
  });
  const local = engine(
    machine({
      Wait: task('sqs:sendMessage.waitForTaskToken', {
        Parameters: { QueueUrl: URL, MessageBody: { 'token.$': '$$.Task.Token', 'key.$': '$.key' } },
        TimeoutSeconds: 60,
        ResultPath: '$.woken',
      }),
    }),
    { sqs, tokens: stepFunctions.tokens },
    clock,
  );
  const waker = engine(
    machine(
      {
        Receive: task('aws-sdk:sqs:receiveMessage', {
          Parameters: { QueueUrl: URL, WaitTimeSeconds: 20 },
          ResultSelector: { 'body.$': 'States.StringToJson($.Messages[0].Body)' },
          Next: 'Wake',
          End: undefined,
        }),
        Wake: task('aws-sdk:sfn:sendTaskSuccess', {
          Parameters: { 'TaskToken.$': '$.body.token', Output: '{"slot":1}' },
        }),
      },
      'Receive',
    ),
    { sqs, tokens: stepFunctions.tokens, stepFunctions: () => stepFunctions.api },
    clock,
  );
  const waiting = local.run({ key: 'k' });
  expect(await waker.run({})).toEqual({ status: 'SUCCEEDED', output: {} });
  expect(await waiting).toEqual({ status: 'SUCCEEDED', output: { key: 'k', woken: { slot: 1 } } });
  // The same token again: the task is closed.
  const [message] = (await sqs.queue(URL).receiveMessage({})).Messages ?? [];
  expect(message).toBeUndefined();
});

/** The synthesized workflow (4 slots) with its wait cut to `waitSeconds`, on a fresh table and `clock` (by default one that moves by itself); tasks take `taskMs`. */
async function gatedWorkflow(waitSeconds: number, taskMs: number, clock: VirtualClock = new AutoClock()) {
  const deployment = deployLocally(readTemplateFile(gateTemplate), { region: 'us-east-1' });
  const workflow = loadStateMachine(deployment, 'WorkflowStateMachine8F1B1C15');
  const definition = JSON.parse(JSON.stringify(workflow.definition)) as StateMachineDefinition;
  (definition.States.WaitForLaunchSlot as Record<string, unknown>).TimeoutSeconds = waitSeconds;
  const fresh = await startLocalDynamoDb(deployment);
  const stepFunctions = new LocalStepFunctions({
    clock,
    services: { dynamodb: fresh.stepFunctionsRequests },
    runTask: async () => {
      await clock.sleep(taskMs);
      return {
        TaskArn: 'arn:task',
        StopCode: 'EssentialContainerExited',
        StoppedReason: '',
        Containers: [{ ExitCode: 0 }],
        // ECS's times, epoch milliseconds (the workflow keeps them for the object's record)
        CreatedAt: clock.now() - taskMs,
        StartedAt: clock.now() - taskMs,
        StoppedAt: clock.now(),
      };
    },
  });
  const TableName = fresh.tables[0].tableName;
  const gate = async () => {
    const slots = await fresh.client.send(
      new GetItemCommand({
        TableName,
        Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
        ConsistentRead: true,
      }),
    );
    const waiters = await fresh.client.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :w',
        ExpressionAttributeValues: { ':w': { S: 'waiters' } },
        ConsistentRead: true,
      }),
    );
    return { holders: slots.Item?.holders?.SS ?? [], waiters: waiters.Items?.map((w) => w.sk.S) ?? [] };
  };
  const start = (count: number) => {
    for (let i = 0; i < count; i++) {
      stepFunctions.startExecution(
        { ...workflow, definition },
        { bucket: 'b', key: `k${i}`, etag: 'e', size: 1, versionId: '' },
        { name: `e${i}` },
      );
    }
  };
  return { deployment, fresh, clock, stepFunctions, gate, start, TableName };
}

test('the launch gate: a waiter whose wait timed out leaves the line and fails; the gate ends empty', async () => {
  // GIVEN 4 slots, a wait cut to 10 s, and tasks of 15 s
  const { fresh, stepFunctions, gate, start } = await gatedWorkflow(10, 15_000);
  try {
    // WHEN 5 executions start at once: 4 hold a slot, the 5th waits in line, and gives up after 10 s
    start(5);
    await stepFunctions.onIdle();

    // THEN the 4 succeed, the waiter fails with States.Timeout, and nobody holds or waits
    const records = stepFunctions.executions();
    expect(records.filter((r) => r.status === 'SUCCEEDED')).toHaveLength(4);
    expect(records.filter((r) => r.status === 'FAILED').map((r) => r.error)).toEqual(['States.Timeout']);
    expect(await gate()).toEqual({ holders: [], waiters: [] });
  } finally {
    await fresh.close();
  }
});

test('the launch gate cleanup: a holder that ended without its release is released, and its slot handed to the oldest waiter', async () => {
  // GIVEN 4 slots, one held by an execution that was aborted (it never released), and tasks of 3 s, on
  // a clock that moves only when told (the waiter must still be waiting when the cleanup runs)
  const { deployment, fresh, clock, stepFunctions, gate, start, TableName } = await gatedWorkflow(
    60,
    3_000,
    new VirtualClock(),
  );
  const aborted = 'arn:aws:states:us-east-1:000000000000:execution:WorkflowStateMachine:aborted';
  try {
    await fresh.client.send(
      new UpdateItemCommand({
        TableName,
        Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
        UpdateExpression: 'ADD holders :h SET #limit = :limit',
        ExpressionAttributeNames: { '#limit': 'limit' },
        ExpressionAttributeValues: { ':h': { SS: [aborted] }, ':limit': { N: '1' } },
      }),
    );
    // WHEN an execution starts: the one slot is taken, so it waits
    start(1);
    for (let i = 0; i < 100 && (await gate()).waiters.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await gate()).waiters).toHaveLength(1);
    // AND the aborted execution's status-change event reaches the cleanup state machine
    const cleanup = loadStateMachine(deployment, 'LaunchGateCleanupStateMachine664DA2A5');
    const local = engine(
      cleanup.definition,
      {
        dynamodb: fresh.stepFunctionsRequests,
        tokens: stepFunctions.tokens,
        stepFunctions: () => stepFunctions.api,
      },
      clock,
    );
    const event = {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: aborted, status: 'ABORTED' },
    };
    expect(await local.run(event)).toMatchObject({ status: 'SUCCEEDED' });
    // a duplicate delivery changes nothing
    expect(await local.run(event)).toMatchObject({ status: 'SUCCEEDED' });
    // the woken waiter's task takes 3 s of the clock
    for (let i = 0; i < 100 && !stepFunctions.idle; i++) {
      await clock.advance(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await stepFunctions.onIdle();

    // THEN the waiter ran in the freed slot, and the gate ends empty
    expect(stepFunctions.executions().map((r) => r.status)).toEqual(['SUCCEEDED']);
    expect(await gate()).toEqual({ holders: [], waiters: [] });
  } finally {
    await fresh.close();
  }
});

test('the launch gate claim, as deployed: repeated (its first answer lost) it holds one slot; past the limit it is refused', async () => {
  // GIVEN the deployed ClaimLaunchSlot state alone, on a fresh table (4 slots)
  const { deployment, fresh, gate } = await gatedWorkflow(60, 0);
  const workflow = loadStateMachine(deployment, 'WorkflowStateMachine8F1B1C15');
  const claimState = { ...workflow.definition.States.ClaimLaunchSlot, End: true } as Record<string, unknown>;
  delete claimState.Next;
  delete claimState.Catch;
  const clock = new VirtualClock();
  const tokens = new TaskTokens(clock);
  const claim = new LocalStateMachine(machine({ ClaimLaunchSlot: claimState }), {
    clock,
    tokens,
    services: { dynamodb: fresh.stepFunctionsRequests, tokens },
  });
  const claimAs = (name: string) =>
    claim.run(
      {},
      {
        identity: {
          executionArn: `arn:aws:states:us-east-1:000000000000:execution:w:${name}`,
          name,
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:w',
          startTime: '',
        },
        history: new ExecutionHistory(clock),
      },
    );
  try {
    // WHEN one execution's claim is applied twice, and four others claim
    for (const name of ['a', 'a', 'b', 'c', 'd'])
      expect(await claimAs(name)).toMatchObject({ status: 'SUCCEEDED' });
    // THEN it holds one slot, and the fifth execution finds every slot taken
    expect((await gate()).holders).toHaveLength(4);
    expect(await claimAs('e')).toMatchObject({
      status: 'FAILED',
      error: 'DynamoDb.ConditionalCheckFailedException',
    });
    expect(await claimAs('a')).toMatchObject({ status: 'SUCCEEDED' });
  } finally {
    await fresh.close();
  }
});

test('aws-sdk:dynamodb:* reaches dynalite with any action; errors are DynamoDb.<name>Exception; .waitForTaskToken works on it', async () => {
  const clock = new AutoClock();
  const stepFunctions = new LocalStepFunctions({
    clock,
    runTask: () => Promise.reject(new Error('no ECS here')),
  });
  const services = {
    dynamodb: dynamodb.stepFunctionsRequests,
    tokens: stepFunctions.tokens,
    stepFunctions: () => stepFunctions.api,
  };
  const put = (id: string, extra: Record<string, unknown> = {}) =>
    task('aws-sdk:dynamodb:putItem', {
      Parameters: {
        TableName: tableName(),
        Item: { pk: { S: id }, sk: { S: id }, 'at.$': '$.at' },
        ...extra,
      },
    });
  const flow = engine(
    machine({
      Put: { ...put('sdk-item'), End: undefined, Next: 'Get' },
      Get: task('aws-sdk:dynamodb:getItem', {
        Parameters: { TableName: tableName(), Key: { pk: { S: 'sdk-item' }, sk: { S: 'sdk-item' } } },
        ResultSelector: { 'at.$': '$.Item.at.S' },
      }),
    }),
    services,
    clock,
  );
  expect(await flow.run({ at: { S: 'noon' } })).toEqual({ status: 'SUCCEEDED', output: { at: 'noon' } });
  const again = engine(
    machine({ Put: put('sdk-item', { ConditionExpression: 'attribute_not_exists(pk)' }) }),
    services,
    clock,
  );
  expect(await again.run({ at: { S: 'later' } })).toMatchObject({
    status: 'FAILED',
    error: 'DynamoDb.ConditionalCheckFailedException',
  });
  // .waitForTaskToken: the item carries the token; another execution answers through SendTaskSuccess
  const waiting = engine(
    machine({
      Park: task('aws-sdk:dynamodb:putItem.waitForTaskToken', {
        Parameters: {
          TableName: tableName(),
          Item: { pk: { S: 'parked' }, sk: { S: 'parked' }, token: { 'S.$': '$$.Task.Token' } },
        },
      }),
    }),
    services,
    clock,
  );
  const parked = waiting.run({});
  const answer = engine(
    machine({
      Read: {
        ...task('aws-sdk:dynamodb:getItem', {
          Parameters: { TableName: tableName(), Key: { pk: { S: 'parked' }, sk: { S: 'parked' } } },
        }),
        End: undefined,
        Next: 'Wake',
      },
      Wake: task('aws-sdk:sfn:sendTaskSuccess', {
        Parameters: { 'TaskToken.$': '$.Item.token.S', Output: '{"woken":true}' },
      }),
    }),
    services,
    clock,
  );
  // The item lands in its own time (dynalite is real I/O): read until it is there.
  const parkedItem = () =>
    dynamodb.client.send(
      new GetItemCommand({ TableName: tableName(), Key: { pk: { S: 'parked' }, sk: { S: 'parked' } } }),
    );
  while (!(await parkedItem()).Item) await new Promise((resolve) => setImmediate(resolve));
  expect(await answer.run({})).toMatchObject({ status: 'SUCCEEDED' });
  expect(await parked).toEqual({ status: 'SUCCEEDED', output: { woken: true } });
});

test('aws-sdk:sfn:* calls the Step Functions API (Sfn.<code>Exception); states:startExecution.sync waits for the child', async () => {
  const clock = new AutoClock();
  const child = {
    logicalId: 'Child',
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Child',
    definition: machine({
      Nap: { Type: 'Wait', Seconds: 30, Next: 'Done' },
      Done: { Type: 'Pass', Result: { ok: 1 }, End: true },
    }),
  };
  const cloudwatch = new LocalCloudWatch(() => clock.now());
  const stepFunctions = new LocalStepFunctions({
    clock,
    runTask: () => Promise.reject(new Error('no ECS here')),
    stateMachines: [child],
    services: { cloudwatch },
  });
  const services = { tokens: stepFunctions.tokens, stepFunctions: () => stepFunctions.api, cloudwatch };
  const parent = engine(
    machine({
      Start: {
        ...task('states:startExecution.sync:2', {
          Parameters: { StateMachineArn: child.arn, Input: { 'from.$': '$.from' } },
        }),
        ResultSelector: { 'status.$': '$.Status', 'output.$': '$.Output', 'input.$': '$.Input' },
        End: undefined,
        Next: 'Describe',
      },
      Describe: {
        ...task('aws-sdk:sfn:describeExecution', {
          Parameters: { ExecutionArn: `${child.arn.replace(':stateMachine:', ':execution:')}:nope` },
        }),
        Catch: [
          { ErrorEquals: ['Sfn.ExecutionDoesNotExistException'], ResultPath: '$.missing', Next: 'Measure' },
        ],
      },
      Measure: task('aws-sdk:cloudwatch:putMetricData', {
        Parameters: {
          Namespace: 'Pipeline',
          MetricData: [{ MetricName: 'Waiting', Value: 3, Unit: 'Count' }],
        },
        ResultPath: null,
      }),
    }),
    services,
    clock,
  );
  const started = clock.now();
  const outcome = await parent.run({ from: 'parent' });
  expect(outcome).toMatchObject({
    status: 'SUCCEEDED',
    output: {
      status: 'SUCCEEDED',
      output: { ok: 1 },
      input: { from: 'parent' },
      missing: { Error: 'Sfn.ExecutionDoesNotExistException' },
    },
  });
  expect(clock.now() - started).toBe(30_000);
  expect(cloudwatch.recorded).toEqual([
    {
      namespace: 'Pipeline',
      at: started + 30_000,
      datum: { MetricName: 'Waiting', Value: 3, Unit: 'Count' },
    },
  ]);
});

test('events:putEvents hands the Entries to the event bus given (as PutEvents); its refusals are EventBridge.<code>Exception', async () => {
  const clock = new VirtualClock();
  const received: unknown[] = [];
  const bus = {
    signingName: 'events',
    call: async (action: string, request: Record<string, unknown>) => {
      received.push({ action, request });
      if ((request.Entries as unknown[]).length > 10)
        throw new AwsServiceError('ValidationException', 'too many');
      return { Entries: [{ EventId: 'e-1' }], FailedEntryCount: 0 };
    },
  };
  const put = (entries: unknown) =>
    engine(
      machine({ Put: task('events:putEvents', { Parameters: { Entries: entries } }) }),
      { events: bus },
      clock,
    ).run({});
  const entry = { Source: 'pipeline', DetailType: 'Processed', Detail: { key: 'k' } };
  expect(await put([entry])).toEqual({
    status: 'SUCCEEDED',
    output: { Entries: [{ EventId: 'e-1' }], FailedEntryCount: 0 },
  });
  // Detail given as JSON reaches PutEvents as its text, as the API takes it
  expect(received).toEqual([
    { action: 'PutEvents', request: { Entries: [{ ...entry, Detail: '{"key":"k"}' }] } },
  ]);
  expect(await put(Array.from({ length: 11 }, () => entry))).toMatchObject({
    status: 'FAILED',
    error: 'EventBridge.ValidationException',
  });
});
