import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

import { deployLocally } from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';

/**
 * The local DynamoDB's own client hands its requests to dynalite in this process; a client from
 * outside (a socket to the port) sees the same table. Both are real SDK clients against real dynalite.
 */

const template = {
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'items',
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
    },
  },
};

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
