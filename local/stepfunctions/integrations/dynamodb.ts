import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';

import { StatesError } from '../errors';

/**
 * The optimized DynamoDB integration (`arn:aws:states:::dynamodb:<action>`): the state's effective
 * Parameters are the API request, sent as is to the local DynamoDB; the result is the API response
 * (without the SDK's `$metadata`). Errors are named as Step Functions names them,
 * `DynamoDB.<exception>` (e.g. `DynamoDB.ConditionalCheckFailedException`), and
 * `DynamoDB.AmazonDynamoDBException` when the request never got an answer.
 */

/**
 * The actions served, each building its SDK command from the request: what the template calls
 * (the launch gate's records); another action is refused when the definition loads. The AWS SDK
 * integration (`aws-sdk:dynamodb:<action>`) is served by the same calls, its errors named
 * `DynamoDb.<exception>` (Step Functions' PascalCase service name for SDK integrations).
 */
const COMMANDS: Record<string, (client: DynamoDBClient, request: never) => Promise<object>> = {
  updateItem: (client, request) => client.send(new UpdateItemCommand(request)),
  deleteItem: (client, request) => client.send(new DeleteItemCommand(request)),
  putItem: (client, request) => client.send(new PutItemCommand(request)),
  query: (client, request) => client.send(new QueryCommand(request)),
};

export const DYNAMODB_ACTIONS = ['updateItem'];
export const DYNAMODB_SDK_ACTIONS = Object.keys(COMMANDS);

export async function callDynamoDb(
  client: DynamoDBClient,
  action: string,
  parameters: unknown,
  errorPrefix: 'DynamoDB' | 'DynamoDb' = 'DynamoDB',
): Promise<unknown> {
  try {
    const response = (await COMMANDS[action](client, parameters as never)) as Record<string, unknown>;
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { $metadata, ...result } = response;
    return result;
  } catch (error) {
    const { name, message, $metadata } = error as Error & { $metadata?: unknown };
    throw new StatesError(
      $metadata ? `${errorPrefix}.${name}` : `${errorPrefix}.AmazonDynamoDBException`,
      message,
    );
  }
}
