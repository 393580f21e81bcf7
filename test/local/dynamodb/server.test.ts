import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';

import { deployLocally } from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';

/**
 * The local DynamoDB's own client hands its requests to dynalite in this process; a client from
 * outside (a socket to the port) sees the same table. Both are real SDK clients against real dynalite.
 * Step Functions' own calls reach dynalite as JSON, without the SDK client: each of those requests is
 * sent both ways, on two tables in the same state, and must answer the same, or fail with the same
 * error name, message and status, as the SDK client (what the Task states' errors are named after).
 */

const table = (TableName: string) => ({
  Type: 'AWS::DynamoDB::Table',
  Properties: {
    TableName,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  },
});
const template = { Resources: { Table: table('items'), Sdk: table('by-sdk'), Json: table('by-json') } };

let local: LocalDynamoDb;
let outside: DynamoDBClient;
beforeAll(async () => {
  local = await startLocalDynamoDb(deployLocally(template, { region: 'us-east-1' }));
  outside = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: local.endpoint,
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
  });
});
afterAll(async () => {
  outside.destroy();
  await local.close();
});

test('what the own client writes, a client over the socket reads, and the other way round', async () => {
  await local.client.send(
    new PutItemCommand({ TableName: 'items', Item: { pk: { S: 'a' }, sk: { S: '1' }, n: { N: '1' } } }),
  );
  await outside.send(
    new UpdateItemCommand({
      TableName: 'items',
      Key: { pk: { S: 'a' }, sk: { S: '1' } },
      UpdateExpression: 'ADD n :one',
      ExpressionAttributeValues: { ':one': { N: '1' } },
    }),
  );
  const { Item } = await local.client.send(
    new GetItemCommand({ TableName: 'items', Key: { pk: { S: 'a' }, sk: { S: '1' } }, ConsistentRead: true }),
  );
  expect(Item).toEqual({ pk: { S: 'a' }, sk: { S: '1' }, n: { N: '2' } });
});

test("DynamoDB's refusals reach the own client as the SDK's errors, with the HTTP status", async () => {
  const put = local.client.send(
    new PutItemCommand({
      TableName: 'items',
      Item: { pk: { S: 'a' }, sk: { S: '1' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  await expect(put).rejects.toMatchObject({
    name: 'ConditionalCheckFailedException',
    $metadata: { httpStatusCode: 400 },
  });
  await expect(
    local.client.send(new GetItemCommand({ TableName: 'nowhere', Key: { pk: { S: 'a' }, sk: { S: '1' } } })),
  ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
});

test('many writes to one item at once all land, one after the other', async () => {
  const key = { pk: { S: 'counter' }, sk: { S: '0' } };
  await Promise.all(
    Array.from({ length: 50 }, () =>
      local.client.send(
        new UpdateItemCommand({
          TableName: 'items',
          Key: key,
          UpdateExpression: 'ADD n :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      ),
    ),
  );
  const { Item } = await outside.send(
    new GetItemCommand({ TableName: 'items', Key: key, ConsistentRead: true }),
  );
  expect(Item?.n).toEqual({ N: '50' });
});

test("the own client makes no log records (the SDK's logger middleware walks every input and output)", () => {
  expect(outside.middlewareStack.identify()).toContainEqual(expect.stringMatching(/^loggerMiddleware/));
  expect(local.client.middlewareStack.identify()).not.toContainEqual(
    expect.stringMatching(/^loggerMiddleware/),
  );
});

/** The command on the `by-sdk` table through the SDK client, and on `by-json` as JSON: each one's answer or error. */
async function bothWays(
  make: (tableName: string) => { readonly input: unknown },
): Promise<{ sdk: unknown; json: unknown }> {
  const outcome = (send: () => Promise<unknown>) =>
    send().then(
      (answer) => {
        const rest = { ...(answer as Record<string, unknown>) };
        delete rest.$metadata;
        return { answer: rest };
      },
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({
        error: error.name,
        message: error.message,
        status: error.$metadata?.httpStatusCode,
      }),
    );
  const sdk = await outcome(() => local.client.send(make('by-sdk') as never));
  const json = await outcome(() => local.stepFunctionsRequests.send(make('by-json')));
  return { sdk: rename(sdk), json: rename(json) };
}

/** The table's name in an answer or message, made the same for both. */
const rename = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value).replaceAll('by-sdk', 'T').replaceAll('by-json', 'T'));

const key = { pk: { S: 'object' }, sk: { S: 'record' } };

test("Step Functions' JSON requests: writes, reads and queries answer as through the SDK client", async () => {
  const put = await bothWays(
    (TableName) =>
      new PutItemCommand({
        TableName,
        Item: { ...key, n: { N: '1' }, list: { L: [{ S: 'a' }, { NULL: true }, { BOOL: false }] } },
      }),
  );
  expect(put.json).toEqual(put.sdk);
  expect(put.json).toEqual({ answer: {} });

  const update = await bothWays(
    (TableName) =>
      new UpdateItemCommand({
        TableName,
        Key: key,
        UpdateExpression: 'ADD n :one SET #s = :s, m = :m',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':s': { S: 'RUNNING' },
          ':m': { M: { at: { N: '1.5' }, tags: { SS: ['x', 'y'] } } },
        },
        ReturnValues: 'ALL_NEW',
        ReturnConsumedCapacity: 'TOTAL',
      }),
  );
  expect(update.json).toEqual(update.sdk);
  expect(update.json).toMatchObject({ answer: { Attributes: { n: { N: '2' }, status: { S: 'RUNNING' } } } });

  const get = await bothWays(
    (TableName) => new GetItemCommand({ TableName, Key: key, ConsistentRead: true }),
  );
  expect(get.json).toEqual(get.sdk);
  const missing = await bothWays(
    (TableName) => new GetItemCommand({ TableName, Key: { ...key, sk: { S: 'none' } } }),
  );
  expect(missing.json).toEqual(missing.sdk);
  expect(missing.json).toEqual({ answer: {} });

  const query = await bothWays(
    (TableName) =>
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'object' } },
        Limit: 1,
      }),
  );
  expect(query.json).toEqual(query.sdk);
  expect(query.json).toMatchObject({ answer: { Count: 1, ScannedCount: 1, LastEvaluatedKey: key } });

  const deleted = await bothWays(
    (TableName) => new DeleteItemCommand({ TableName, Key: key, ReturnValues: 'ALL_OLD' }),
  );
  expect(deleted.json).toEqual(deleted.sdk);
  expect(deleted.json).toMatchObject({ answer: { Attributes: { status: { S: 'RUNNING' } } } });
});

test("Step Functions' JSON requests: DynamoDB's refusals fail with the SDK's error names, messages and HTTP status", async () => {
  const refusals: Array<(TableName: string) => { readonly input: unknown }> = [
    // A full gate's claim: the condition does not hold.
    (TableName) =>
      new PutItemCommand({
        TableName,
        Item: { ...key, n: { N: '1' } },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    // The request is not valid (an expression's value is missing).
    (TableName) => new UpdateItemCommand({ TableName, Key: key, UpdateExpression: 'SET a = :missing' }),
    // No such table.
    () => new GetItemCommand({ TableName: 'no-such-table', Key: key }),
    // An operation dynalite does not serve: its UnknownOperationException.
    (TableName) => new TransactWriteItemsCommand({ TransactItems: [{ Delete: { TableName, Key: key } }] }),
  ];
  const names = [];
  for (const refusal of refusals) {
    const { sdk, json } = await bothWays(refusal);
    expect(json).toEqual(sdk);
    names.push((json as { error: string }).error);
  }
  expect(names).toEqual([
    'ConditionalCheckFailedException',
    'ValidationException',
    'ResourceNotFoundException',
    'UnknownOperationException',
  ]);
});
