import { checkUpdateItem, DynamoDbItems } from '../../../local/simulate/dynamodb-items';

/** The gate's counter: ADD updates in DynamoDB JSON. */

const claim = (change: string) => ({
  TableName: 'Slots',
  Key: { id: { S: 'launch-slots' } },
  UpdateExpression: 'ADD demand :change',
  ExpressionAttributeValues: { ':change': { N: change } },
  ReturnValues: 'UPDATED_NEW',
});

test('ADD counts from 0 on a new item and returns the updated attribute, as UPDATED_NEW does', () => {
  const items = new DynamoDbItems();
  expect(items.updateItem(claim('1'))).toEqual({ Attributes: { demand: { N: '1' } } });
  expect(items.updateItem(claim('1'))).toEqual({ Attributes: { demand: { N: '2' } } });
  expect(items.updateItem(claim('-1'))).toEqual({ Attributes: { demand: { N: '1' } } });
  expect(items.snapshot()).toEqual([
    { tableName: 'Slots', item: { id: { S: 'launch-slots' }, demand: { N: '1' } } },
  ]);
  expect(items.writeRequests).toBe(3);
});

test('ExpressionAttributeNames and several ADD pairs; ReturnValues NONE returns nothing', () => {
  const items = new DynamoDbItems();
  const result = items.updateItem({
    ...claim('2'),
    UpdateExpression: 'ADD #d :change, other :change',
    ExpressionAttributeNames: { '#d': 'demand' },
    ReturnValues: 'NONE',
  });
  expect(result).toEqual({});
  expect(items.snapshot()[0].item).toEqual({
    id: { S: 'launch-slots' },
    demand: { N: '2' },
    other: { N: '2' },
  });
});

test('anything but ADD of literal numbers is refused with what is supported', () => {
  expect(checkUpdateItem(claim('1'))).toBeUndefined();
  expect(checkUpdateItem({ ...claim('1'), UpdateExpression: 'SET demand = demand + :change' })).toMatch(
    /^the UpdateExpression "SET demand = demand \+ :change" \(only a literal "ADD/,
  );
  expect(checkUpdateItem({ ...claim('1'), ExpressionAttributeValues: { ':change': { SS: ['a'] } } })).toMatch(
    /^the ADD value :change \(it must be a literal number/,
  );
});
