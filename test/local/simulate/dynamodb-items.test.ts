import {
  checkDynamoDbParameters,
  DynamoDbItems,
  DynamoDbItemsError,
} from '../../../local/simulate/dynamodb-items';
import type { Json } from '../../../local/stepfunctions/asl/paths';

/** The launch gate's records in the simulator: a holders set under a limit, waiter items in arrival order. */

const SCHEMAS = {
  Gate: { hashKey: 'pk', rangeKey: 'sk', indexes: { ByArrival: { hashKey: 'pk', rangeKey: 'arrivedAt' } } },
};
const SLOTS = { pk: { S: 'slots' }, sk: { S: 'slots' } };
const claim = (holder: string) => ({
  TableName: 'Gate',
  Key: SLOTS,
  UpdateExpression: 'ADD holders :holders SET #limit = if_not_exists(#limit, :deployedLimit)',
  ConditionExpression:
    'attribute_not_exists(holders) OR contains(holders, :holder) OR size(holders) < #limit',
  ExpressionAttributeNames: { '#limit': 'limit' },
  ExpressionAttributeValues: {
    ':holders': { SS: [holder] },
    ':holder': { S: holder },
    ':deployedLimit': { N: '2' },
  },
});
const release = (holder: string) => ({
  TableName: 'Gate',
  Key: SLOTS,
  UpdateExpression: 'DELETE holders :holders',
  ExpressionAttributeValues: { ':holders': { SS: [holder] } },
});
/** The waiters' keys in the order of the gate's ByArrival index, at most `limit` of them. */
const waitersInLine = (items: DynamoDbItems, limit?: number) =>
  (
    items.query({
      TableName: 'Gate',
      IndexName: 'ByArrival',
      KeyConditionExpression: 'pk = :w',
      ExpressionAttributeValues: { ':w': { S: 'waiters' } },
      ConsistentRead: true,
      ...(limit !== undefined && { Limit: limit }),
    }) as { Items: Array<{ sk: { S: string } }> }
  ).Items.map((item) => item.sk.S);
const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    return error instanceof DynamoDbItemsError ? error.name : String(error);
  }
  return 'no error';
};

test('a claim holds under the limit, is idempotent, and is refused with the condition when the set is full', () => {
  const items = new DynamoDbItems(SCHEMAS);
  items.updateItem(claim('a'));
  items.updateItem(claim('b'));
  // a repeated claim (its first answer lost) changes nothing
  expect(items.updateItem({ ...claim('a'), ReturnValues: 'ALL_NEW' })).toEqual({
    Attributes: { ...SLOTS, holders: { SS: ['a', 'b'] }, limit: { N: '2' } },
  });
  // the SDK's name: the integration that called adds its prefix (DynamoDB. or DynamoDb.)
  expect(refusal(() => items.updateItem(claim('c')))).toBe('ConditionalCheckFailedException');
  expect(refusal(() => items.updateItem(claim('c')))).toBe('ConditionalCheckFailedException');
  // a release deletes the member (twice: nothing more); the last one removes the set
  items.updateItem(release('a'));
  items.updateItem(release('a'));
  items.updateItem(claim('c'));
  items.updateItem(release('b'));
  items.updateItem(release('c'));
  expect(items.snapshot()).toEqual([{ tableName: 'Gate', item: { ...SLOTS, limit: { N: '2' } } }]);
  expect(items.writeRequests).toBe(10);
});

test('waiters: a query of the index gives the oldest first, Limit counts, a conditional delete keeps a newer token', () => {
  const items = new DynamoDbItems(SCHEMAS);
  const wait = (arn: string, at: string, token: string) =>
    items.putItem({
      TableName: 'Gate',
      Item: { pk: { S: 'waiters' }, sk: { S: arn }, arrivedAt: { S: at }, taskToken: { S: token } },
    });
  wait('z', '2026-12-01T00:00:01.000Z', 't1');
  wait('a', '2026-12-01T00:00:03.000Z', 't2');
  wait('m', '2026-12-01T00:00:02.000Z', 't3');
  const oldest = (limit: number) => waitersInLine(items, limit);
  expect(oldest(10)).toEqual(['z', 'm', 'a']);
  expect(oldest(1)).toEqual(['z']);
  // z retried its wait: a new token, the same key and arrival
  wait('z', '2026-12-01T00:00:01.000Z', 't4');
  const drop = (arn: string, token: string) =>
    items.deleteItem({
      TableName: 'Gate',
      Key: { pk: { S: 'waiters' }, sk: { S: arn } },
      ConditionExpression: 'taskToken = :token',
      ExpressionAttributeValues: { ':token': { S: token } },
    });
  expect(refusal(() => drop('z', 't1'))).toBe('ConditionalCheckFailedException');
  expect(oldest(1)).toEqual(['z']);
  drop('z', 't4');
  expect(oldest(10)).toEqual(['m', 'a']);
  // the slot item is not in the index (no arrivedAt)
  items.updateItem(claim('x'));
  expect(oldest(10)).toEqual(['m', 'a']);
  expect(items.readRequests).toBe(5);
});

test('expressions DynamoDB would refuse are refused before the simulation, values given by a path included', () => {
  expect(checkDynamoDbParameters(claim('a'))).toBeUndefined();
  expect(
    checkDynamoDbParameters({
      ...claim('a'),
      ExpressionAttributeValues: {
        ':holders': { 'SS.$': 'States.Array($$.Execution.Id)' },
        ':holder': { 'S.$': '$$.Execution.Id' },
        ':deployedLimit': { N: '2' },
      },
    }),
  ).toBeUndefined();
  expect(checkDynamoDbParameters({ ...claim('a'), UpdateExpression: 'ADD holders' })).toMatch(
    /^an expression DynamoDB refuses \(/,
  );
  expect(checkDynamoDbParameters({ ...claim('a'), ExpressionAttributeValues: {} })).toMatch(/:holders/);
});

test('index writes as DynamoDB bills them: in, out, a changed index key twice, a projected attribute once, else none', () => {
  const items = new DynamoDbItems({
    Records: {
      hashKey: 'bucket',
      rangeKey: 'key',
      indexes: {
        // every attribute projected
        ByFailure: { hashKey: 'bucket', rangeKey: 'failedAt' },
        // the keys and executionArn only
        ByOpen: { hashKey: 'bucket', rangeKey: 'openSince', nonKeyAttributes: ['executionArn'] },
      },
    },
  });
  const key = { bucket: { S: 'b' }, key: { S: 'k' } };
  const update = (expression: string, values: Record<string, Json> = {}) =>
    items.updateItem({
      TableName: 'Records',
      Key: key,
      UpdateExpression: expression,
      ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
    });
  const indexWrites = (write: () => unknown) => {
    const before = items.indexWriteRequests;
    write();
    return items.indexWriteRequests - before;
  };
  // a new open record comes into ByOpen
  expect(
    indexWrites(() =>
      update('SET openSince = :t, executionArn = :e', { ':t': { S: '1' }, ':e': { S: 'e1' } }),
    ),
  ).toBe(1);
  // a status ByOpen does not project: nothing
  expect(indexWrites(() => update('SET phase = :s', { ':s': { S: 'RUNNING' } }))).toBe(0);
  // its execution, which ByOpen projects: one
  expect(indexWrites(() => update('SET executionArn = :e', { ':e': { S: 'e2' } }))).toBe(1);
  // its index key changed: a delete and a put
  expect(indexWrites(() => update('SET openSince = :t', { ':t': { S: '2' } }))).toBe(2);
  // failed and closed: into ByFailure, out of ByOpen
  expect(indexWrites(() => update('SET failedAt = :f REMOVE openSince', { ':f': { S: '3' } }))).toBe(2);
  // any change to an item in ByFailure, which projects every attribute
  expect(indexWrites(() => update('SET phase = :s', { ':s': { S: 'FAILED' } }))).toBe(1);
  // a write that changes nothing, and a refused one, write no index
  expect(indexWrites(() => update('SET phase = :s', { ':s': { S: 'FAILED' } }))).toBe(0);
  expect(
    refusal(() =>
      indexWrites(() =>
        items.deleteItem({
          TableName: 'Records',
          Key: key,
          ConditionExpression: 'attribute_not_exists(failedAt)',
        }),
      ),
    ),
  ).toBe('ConditionalCheckFailedException');
  expect(items.indexWriteRequests).toBe(7);
  // deleted: out of ByFailure
  expect(indexWrites(() => items.deleteItem({ TableName: 'Records', Key: key }))).toBe(1);
  expect(items.writeRequests).toBe(9);
});

test('an order kept from the first Query on: the same as kept from the start, ties in the order of their last write', () => {
  const fresh = () => new DynamoDbItems(SCHEMAS);
  const writes = (items: DynamoDbItems) => {
    const wait = (arn: string, at: string) =>
      items.putItem({
        TableName: 'Gate',
        Item: { pk: { S: 'waiters' }, sk: { S: arn }, arrivedAt: { S: at } },
      });
    wait('c', '2');
    wait('a', '1');
    wait('b', '2');
    wait('d', '1');
    // c written again: after b among the arrivals at 2
    wait('c', '2');
  };
  const line = (items: DynamoDbItems) => waitersInLine(items);
  const late = fresh();
  writes(late);
  const early = fresh();
  expect(line(early)).toEqual([]);
  writes(early);
  expect(line(late)).toEqual(['a', 'd', 'b', 'c']);
  expect(line(early)).toEqual(line(late));
});
