// aws-local-stepfunctions calls Promise.withResolvers, which Node 20 lacks.
import 'core-js/actual/promise/with-resolvers';

import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';

import { deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';
import { loadStateMachine, type StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { StatesError } from '../../../local/stepfunctions/errors';
import { callDynamoDb, dynamoDbCommand } from '../../../local/stepfunctions/integrations/dynamodb';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The synthesized reconciler (lib/launch-gate-reconciler.ts), its every state as deployed, run by a
 * Step Functions interpreter against the local DynamoDB (dynalite). What the local services cannot
 * serve yet is given by the test: DescribeExecution answers from a table of statuses, SendTaskSuccess
 * from a set of tokens still waiting, PutMetricData is recorded.
 */

let dynamodb: LocalDynamoDb;
let definition: StateMachineDefinition;
beforeAll(async () => {
  // 4 slots (fargateVcpuQuota 1)
  const deployment = deployLocally(readTemplateFile(await synthesizedTemplate({ fargateVcpuQuota: '1' })), {
    region: 'us-east-1',
  });
  const [[reconcilerId]] = deployment
    .resourcesOfType('AWS::StepFunctions::StateMachine')
    .filter(([id]) => id.startsWith('LaunchGateReconciler'));
  definition = loadStateMachine(deployment, reconcilerId).definition;
  dynamodb = await startLocalDynamoDb(deployment);
});
afterAll(() => dynamodb?.close());

const TableName = () => dynamodb.tables[0].tableName;
const SLOTS = { pk: { S: 'slots' }, sk: { S: 'slots' } };
const arn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:Workflow:${name}`;

async function gate() {
  const slots = await dynamodb.client.send(
    new GetItemCommand({ TableName: TableName(), Key: SLOTS, ConsistentRead: true }),
  );
  const waiters = await dynamodb.client.send(
    new QueryCommand({
      TableName: TableName(),
      KeyConditionExpression: 'pk = :w',
      ExpressionAttributeValues: { ':w': { S: 'waiters' } },
      ConsistentRead: true,
    }),
  );
  return {
    holders: (slots.Item?.holders?.SS ?? []).sort(),
    limit: slots.Item?.limit?.N,
    waiters: (waiters.Items ?? []).map((w) => w.sk.S),
  };
}

/** One reconciler run; `statuses` is what DescribeExecution answers, `waiting` the tokens a task waits on. */
async function reconcile(statuses: Record<string, string>, waiting: Set<string>): Promise<string[]> {
  const repairs: string[] = [];
  const dynamo = (action: string) => (parameters: unknown) =>
    callDynamoDb(dynamodb.client, dynamoDbCommand(action)!, parameters, 'DynamoDb') as Promise<never>;
  const describe = async ({ ExecutionArn }: { ExecutionArn: string }) => {
    const status = statuses[ExecutionArn];
    if (!status) throw new StatesError('Sfn.ExecutionDoesNotExistException', 'Execution does not exist');
    return { Status: status };
  };
  const handlers: Record<string, (parameters: never) => Promise<unknown>> = {
    WriteLaunchLimit: dynamo('updateItem'),
    ReleaseStaleHolder: dynamo('updateItem'),
    FindWaiters: dynamo('query'),
    GrantWaiter: dynamo('updateItem'),
    RemoveWokenWaiter: dynamo('deleteItem'),
    RemoveGoneWaiter: dynamo('deleteItem'),
    ReadWaiter: dynamo('getItem'),
    DescribeHolder: describe,
    DescribeWaiter: describe,
    WakeWaiter: async ({ TaskToken }: { TaskToken: string }) => {
      if (!waiting.delete(TaskToken)) throw new StatesError('Sfn.TaskTimedOutException', 'Task Timed Out');
      return {};
    },
  };
  for (const report of ['ReportStaleHolder', 'ReportWokenWaiter', 'ReportGoneWaiter']) {
    handlers[report] = async (parameters: never) => {
      const { MetricData } = parameters as { MetricData: Array<{ MetricName: string }> };
      repairs.push(MetricData[0].MetricName);
      return {};
    };
  }
  const { StartAt, States } = JSON.parse(JSON.stringify(definition)) as StateMachineDefinition;
  const machine = new StateMachine({ StartAt, States } as never);
  await machine.run({} as never, { overrides: { taskResourceLocalHandlers: handlers as never } }).result;
  return repairs.sort();
}

test('releases holders that are not running or gone, wakes waiters into the free slots, drops those gone; a second run finds nothing', async () => {
  // GIVEN a gate whose limit is stale (2), holders A (running), B (aborted) and C (gone), and
  // waiters W1 (oldest, waiting) and W2 (its execution gone, its item left in line)
  await dynamodb.client.send(
    new UpdateItemCommand({
      TableName: TableName(),
      Key: SLOTS,
      UpdateExpression: 'SET holders = :h, #limit = :l',
      ExpressionAttributeNames: { '#limit': 'limit' },
      ExpressionAttributeValues: { ':h': { SS: [arn('A'), arn('B'), arn('C')] }, ':l': { N: '2' } },
    }),
  );
  const wait = (name: string, at: string, token: string) =>
    dynamodb.client.send(
      new PutItemCommand({
        TableName: TableName(),
        Item: { pk: { S: 'waiters' }, sk: { S: arn(name) }, arrivedAt: { S: at }, taskToken: { S: token } },
      }),
    );
  await wait('W2', '2026-12-01T00:00:02.000Z', 't2');
  await wait('W1', '2026-12-01T00:00:01.000Z', 't1');
  const statuses = { [arn('A')]: 'RUNNING', [arn('B')]: 'ABORTED', [arn('W1')]: 'RUNNING' };
  const waiting = new Set(['t1']);

  // WHEN the reconciler runs
  const repairs = await reconcile(statuses, waiting);

  // THEN the deployed limit (4) is written, B and C are released, W1 is woken into a free slot, and
  // W2's item is deleted without a grant: the reconciler asks whether a waiter still runs first
  expect(repairs).toEqual([
    'HoldersNotRunning',
    'HoldersNotRunning',
    'WaitersGone',
    'WaitersWokenIntoFreeSlots',
  ]);
  expect(waiting.size).toBe(0);
  expect(await gate()).toEqual({ holders: [arn('A'), arn('W1')].sort(), limit: '4', waiters: [] });

  // AND the next run finds nothing to repair
  expect(await reconcile(statuses, waiting)).toEqual([]);
  expect(await gate()).toEqual({ holders: [arn('A'), arn('W1')].sort(), limit: '4', waiters: [] });
});
