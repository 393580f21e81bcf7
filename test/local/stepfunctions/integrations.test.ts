process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { GetItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';
import { LocalSqs } from '../../../local/sqs/queues';
import { loadStateMachine, type StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { LocalStateMachine } from '../../../local/stepfunctions/state-machine';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * Every Task state served locally, by Resource: DynamoDB against dynalite, SQS, task tokens; and the
 * synthesized launch gate's stale path (a waiter that timed out, counted out by the releaser).
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
const noEcs = () => Promise.reject(new Error('no ECS state here'));

let dynamodb: LocalDynamoDb;
let gateTemplate: string;
beforeAll(async () => {
  // The stack with 4 slots (fargateVcpuQuota 1): its table is the launch gate's.
  gateTemplate = await synthesizedTemplate({ fargateVcpuQuota: '1' });
  dynamodb = await startLocalDynamoDb(deployLocally(readTemplateFile(gateTemplate), { region: 'us-east-1' }));
}, 120_000);
afterAll(() => dynamodb?.close());
const tableName = () => dynamodb.tables[0].tableName;

test('a Resource nothing local serves is refused when the definition is loaded, naming the state', () => {
  expect(() => new LocalStateMachine(machine({ Invoke: task('lambda:invoke') }))).toThrow(
    /Task state "Invoke" calls arn:aws:states:::lambda:invoke: the local Step Functions serves only ecs:runTask.sync, /,
  );
  expect(() => new LocalStateMachine(machine({ Count: task('dynamodb:updateItem') }))).toThrow(
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
  const local = new LocalStateMachine(machine({ Count: update('unit-test') }), {
    services: { dynamodb: dynamodb.client },
  });
  const outcomes = await Promise.all([1, 2, 3].map(() => local.run({}, noEcs)));
  expect(outcomes.map((o) => (o.output as { demand: number }).demand).sort()).toEqual([1, 2, 3]);

  const conditional = new LocalStateMachine(
    machine({ Count: update('absent', { ConditionExpression: 'attribute_exists(pk)' }) }),
    { services: { dynamodb: dynamodb.client } },
  );
  expect(await conditional.run({}, noEcs)).toMatchObject({
    status: 'FAILED',
    error: 'DynamoDB.ConditionalCheckFailedException',
  });
});

test('.waitForTaskToken: $$.Task.Token is in the message; SendTaskSuccess resumes the state', async () => {
  const sqs = new LocalSqs([{ url: URL }], 0.01);
  const local = new LocalStateMachine(
    machine({
      Wait: task('sqs:sendMessage.waitForTaskToken', {
        Parameters: { QueueUrl: URL, MessageBody: { 'token.$': '$$.Task.Token', 'key.$': '$.key' } },
        TimeoutSeconds: 60,
        ResultPath: '$.woken',
      }),
    }),
    { services: { sqs } },
  );
  const waker = new LocalStateMachine(
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
    { services: { sqs, tokens: local.tokens } },
  );
  const waiting = local.run({ key: 'k' }, noEcs);
  expect(await waker.run({}, noEcs)).toEqual({ status: 'SUCCEEDED', output: {} });
  expect(await waiting).toEqual({ status: 'SUCCEEDED', output: { key: 'k', woken: { slot: 1 } } });
  // The same token again: the task is closed.
  const [message] = (await sqs.queue(URL).receiveMessage({})).Messages ?? [];
  expect(message).toBeUndefined();
});

test('aws-sdk:dynamodb calls go to dynalite too; their errors are DynamoDb.<exception>', async () => {
  const local = new LocalStateMachine(
    machine({
      Put: task('aws-sdk:dynamodb:putItem', {
        Parameters: {
          TableName: tableName(),
          Item: { pk: { S: 'sdk' }, sk: { S: 'a' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      }),
    }),
    { services: { dynamodb: dynamodb.client } },
  );
  expect(await local.run({}, noEcs)).toEqual({ status: 'SUCCEEDED', output: {} });
  expect(await local.run({}, noEcs)).toMatchObject({
    status: 'FAILED',
    error: 'DynamoDb.ConditionalCheckFailedException',
  });
});

/** The synthesized workflow (4 slots) with its wait cut to `waitSeconds`, on a fresh table; tasks take `taskMs`. */
async function gatedWorkflow(waitSeconds: number, taskMs: number) {
  const deployment = deployLocally(readTemplateFile(gateTemplate), { region: 'us-east-1' });
  const workflow = loadStateMachine(deployment, 'WorkflowStateMachine8F1B1C15');
  const definition = JSON.parse(JSON.stringify(workflow.definition)) as StateMachineDefinition;
  (definition.States.WaitForLaunchSlot as Record<string, unknown>).TimeoutSeconds = waitSeconds;
  const fresh = await startLocalDynamoDb(deployment);
  const stepFunctions = new LocalStepFunctions({
    services: { dynamodb: fresh.client },
    runTask: () =>
      new Promise((resolve) =>
        setTimeout(
          () =>
            resolve({
              TaskArn: 'arn:task',
              StopCode: 'EssentialContainerExited',
              StoppedReason: '',
              Containers: [{ ExitCode: 0 }],
            }),
          taskMs,
        ),
      ),
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
  return { deployment, fresh, stepFunctions, gate, start, TableName };
}

test('the launch gate: a waiter whose wait timed out leaves the line and fails; the gate ends empty', async () => {
  // GIVEN 4 slots, a wait cut to 1 s, and tasks of 1.5 s
  const { fresh, stepFunctions, gate, start } = await gatedWorkflow(1, 1500);
  try {
    // WHEN 5 executions start at once: 4 hold a slot, the 5th waits in line, and gives up after 1 s
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
}, 60_000);

test('the launch gate cleanup: a holder that ended without its release is released, and its slot handed to the oldest waiter', async () => {
  // GIVEN 4 slots, one held by an execution that was aborted (it never released), and tasks of 300 ms
  const { deployment, fresh, stepFunctions, gate, start, TableName } = await gatedWorkflow(60, 300);
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
    const local = stepFunctions.stateMachineFor(cleanup.definition);
    const event = {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: aborted, status: 'ABORTED' },
    };
    expect(await local.run(event, noEcs)).toMatchObject({ status: 'SUCCEEDED' });
    // a duplicate delivery changes nothing
    expect(await local.run(event, noEcs)).toMatchObject({ status: 'SUCCEEDED' });
    await stepFunctions.onIdle();

    // THEN the waiter ran in the freed slot, and the gate ends empty
    expect(stepFunctions.executions().map((r) => r.status)).toEqual(['SUCCEEDED']);
    expect(stepFunctions.executions()[0].tokenWaits).toHaveLength(1);
    expect(await gate()).toEqual({ holders: [], waiters: [] });
  } finally {
    await fresh.close();
  }
}, 60_000);

test('the launch gate claim, as deployed: repeated (its first answer lost) it holds one slot; past the limit it is refused', async () => {
  // GIVEN the deployed ClaimLaunchSlot state alone, on a fresh table (4 slots)
  const { deployment, fresh, gate } = await gatedWorkflow(60, 0);
  const workflow = loadStateMachine(deployment, 'WorkflowStateMachine8F1B1C15');
  const claimState = { ...workflow.definition.States.ClaimLaunchSlot, End: true } as Record<string, unknown>;
  delete claimState.Next;
  delete claimState.Catch;
  const claim = new LocalStateMachine(machine({ ClaimLaunchSlot: claimState }), {
    services: { dynamodb: fresh.client },
  });
  const claimAs = (name: string) =>
    claim.run({}, noEcs, { executionArn: `arn:aws:states:us-east-1:000000000000:execution:w:${name}`, name });
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
}, 60_000);
