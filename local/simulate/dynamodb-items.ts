import type { Json } from '../stepfunctions/asl/paths';

/**
 * DynamoDB as the `dynamodb:updateItem` integration sees it: items by table and key, in DynamoDB
 * JSON. Only the update the launch gate makes is modelled, an atomic `ADD <attribute> :value` on
 * numbers (an absent attribute or item counts as 0) with ReturnValues `UPDATED_NEW` or `NONE`;
 * `checkUpdateItem` refuses any other expression before the simulation starts.
 */

type AttributeValue = { readonly N: string } | Record<string, Json>;
type Item = Record<string, AttributeValue>;

/** `ADD a :x, #b :y`: the clause and its `<attribute> <value>` pairs. */
const ADD_EXPRESSION = /^\s*ADD\s+([#\w]+\s+:\w+(?:\s*,\s*[#\w]+\s+:\w+)*)\s*$/;
const RETURN_VALUES = ['UPDATED_NEW', 'NONE'];

/** Why the simulator cannot run these updateItem Parameters, or undefined when it can. */
export function checkUpdateItem(parameters: Record<string, Json>): string | undefined {
  const expression = parameters.UpdateExpression;
  if (typeof expression !== 'string' || !ADD_EXPRESSION.test(expression)) {
    return `the UpdateExpression ${JSON.stringify(expression ?? parameters['UpdateExpression.$'])} (only a literal "ADD <attribute> :value, ..." on numbers is)`;
  }
  const returnValues = parameters.ReturnValues ?? 'NONE';
  if (typeof returnValues !== 'string' || !RETURN_VALUES.includes(returnValues)) {
    return `ReturnValues ${JSON.stringify(returnValues)} (only ${RETURN_VALUES.join(' and ')} are)`;
  }
  const values = (parameters.ExpressionAttributeValues ?? {}) as Record<string, Json>;
  for (const [, placeholder] of pairs(expression)) {
    const value = values[placeholder] as Record<string, Json> | undefined;
    if (!value || typeof value.N !== 'string') {
      return `the ADD value ${placeholder} (it must be a literal number in ExpressionAttributeValues, {"N": "1"})`;
    }
  }
  return undefined;
}

/** The `[attribute, placeholder]` pairs of an ADD expression. */
function pairs(expression: string): Array<[string, string]> {
  return ADD_EXPRESSION.exec(expression)![1]
    .split(',')
    .map((pair) => pair.trim().split(/\s+/) as [string, string]);
}

export class DynamoDbItems {
  private readonly items = new Map<string, { tableName: string; item: Item }>();
  /** Write requests made; each of these small items costs one write request unit. */
  writeRequests = 0;

  /** UpdateItem with Parameters `checkUpdateItem` accepted: applied atomically, at once. */
  updateItem(parameters: Record<string, Json>): Json {
    this.writeRequests++;
    const tableName = String(parameters.TableName);
    const key = parameters.Key as Item;
    const id = `${tableName}\n${JSON.stringify(key)}`;
    const entry = this.items.get(id) ?? { tableName, item: structuredClone(key) };
    this.items.set(id, entry);
    const names = (parameters.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = parameters.ExpressionAttributeValues as Record<string, { N: string }>;
    const updated: Item = {};
    for (const [attribute, placeholder] of pairs(String(parameters.UpdateExpression))) {
      const name = names[attribute] ?? attribute;
      const current = entry.item[name] as { N?: string } | undefined;
      const next = { N: String(Number(current?.N ?? 0) + Number(values[placeholder].N)) };
      entry.item[name] = next;
      updated[name] = next;
    }
    return parameters.ReturnValues === 'UPDATED_NEW' ? { Attributes: updated } : {};
  }

  /** Every item, as DynamoDB JSON. */
  snapshot(): Array<{ readonly tableName: string; readonly item: Record<string, Json> }> {
    return [...this.items.values()].map(({ tableName, item }) => ({
      tableName,
      item: structuredClone(item) as Record<string, Json>,
    }));
  }
}
