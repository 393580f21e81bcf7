import * as DynamoDb from '@aws-sdk/client-dynamodb';

import type { DynamoDbSender } from '../../dynamodb/json-requests';
import { StatesError } from '../asl/errors';
import { integrationErrorName } from './error-names';

/**
 * DynamoDB for the state machines, on the local DynamoDB (dynalite, through its full API): the
 * optimized integration (`dynamodb:getItem|putItem|deleteItem|updateItem`, errors `DynamoDB.<name>`)
 * and the AWS SDK integration (`aws-sdk:dynamodb:<any action>`, errors `DynamoDb.<name>Exception`).
 * The state's Parameters are the API request; the result is the API response without the SDK's
 * `$metadata`. A request that never got an answer is `<prefix>.AmazonDynamoDBException`. The local
 * pipeline sends through the local DynamoDB's JSON requests (local/dynamodb/json-requests.ts), which
 * fail as the SDK's client does; any SDK client serves too (the tests' and the planner's models).
 */

/** The actions of the optimized integration, as AWS offers it. */
export const OPTIMIZED_DYNAMODB_ACTIONS = ['getItem', 'putItem', 'deleteItem', 'updateItem'];

type Command = new (
  input: never,
) => DynamoDb.DynamoDBClient extends { send(command: infer C): unknown } ? C : never;

/** The SDK's command for `action` (`updateItem` → UpdateItemCommand), if the SDK has one. */
export function dynamoDbCommand(action: string): Command | undefined {
  const name = `${action[0].toUpperCase()}${action.slice(1)}Command`;
  const command = (DynamoDb as unknown as Record<string, unknown>)[name];
  return typeof command === 'function' ? (command as Command) : undefined;
}

export async function callDynamoDb(
  client: DynamoDbSender,
  command: Command,
  parameters: unknown,
  errorPrefix: 'DynamoDB' | 'DynamoDb',
): Promise<unknown> {
  try {
    const response = (await client.send(new command(parameters as never))) as unknown as Record<
      string,
      unknown
    >;
    return Object.fromEntries(Object.entries(response).filter(([key]) => key !== '$metadata'));
  } catch (error) {
    const { name, message, $metadata } = error as Error & { $metadata?: unknown };
    if (!$metadata) throw new StatesError(`${errorPrefix}.AmazonDynamoDBException`, message);
    throw new StatesError(
      errorPrefix === 'DynamoDB' ? `DynamoDB.${name}` : integrationErrorName(errorPrefix, name),
      message,
    );
  }
}
