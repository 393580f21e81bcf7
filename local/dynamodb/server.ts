import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

import { isPlainObject } from '../cloudformation/intrinsics';
import { type LocalDeployment, TemplateError } from '../cloudformation/template';

/**
 * DynamoDB, locally: dynalite (a DynamoDB API server on LevelDB) in memory on 127.0.0.1, with the
 * template's `AWS::DynamoDB::Table`s created under their local names (the `Ref`, or `TableName`
 * when the template sets one). In memory on purpose: what the tables hold locally (the launch gate's
 * count) belongs to executions of this run, and a restart starts with none running. Clients reach
 * it with the SDK's DynamoDB client, so requests, validation and errors are the DynamoDB API's.
 * Behind the local endpoint it takes no port of its own: the endpoint hands it each DynamoDB request.
 */

/** Any credentials do: dynalite checks that requests are signed, not by whom. */
const LOCAL_DYNAMODB_CREDENTIALS = { accessKeyId: 'LOCAL', secretAccessKey: 'LOCAL' } as const;

export interface LocalTable {
  readonly logicalId: string;
  readonly tableName: string;
}

export interface LocalDynamoDb {
  /** e.g. `http://127.0.0.1:40123` */
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly tables: readonly LocalTable[];
  close(): Promise<void>;
}

/** The local endpoint (local/endpoint/server.ts) DynamoDB is served behind, and the credentials it accepts. */
export interface DynamoDbMount {
  readonly url: string;
  serveDynamoDb(handler: RequestListener): void;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** `mount`: serve behind the local endpoint. @default - a port of its own, any credentials */
export async function startLocalDynamoDb(
  deployment: LocalDeployment,
  mount?: DynamoDbMount,
): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  let endpoint: string;
  if (mount) {
    // dynalite's server is only its request handler here: the endpoint emits each request to it.
    mount.serveDynamoDb((request, response) => server.emit('request', request, response));
    endpoint = mount.url;
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const client = new DynamoDBClient({
    region: deployment.region,
    endpoint,
    credentials: { ...(mount?.credentials ?? LOCAL_DYNAMODB_CREDENTIALS) },
    // Retries are the state machine's (its Retry on DynamoDB's throttling errors), not the client's.
    maxAttempts: 1,
  });
  const tables: LocalTable[] = [];
  for (const [logicalId, resource] of deployment.resourcesOfType('AWS::DynamoDB::Table')) {
    const properties = deployment.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    const tableName =
      typeof properties.TableName === 'string' ? properties.TableName : deployment.ref(logicalId);
    if (!Array.isArray(properties.KeySchema) || !Array.isArray(properties.AttributeDefinitions)) {
      throw new TemplateError(`Table ${logicalId} has no KeySchema and AttributeDefinitions`);
    }
    const throughput = isPlainObject(properties.ProvisionedThroughput)
      ? properties.ProvisionedThroughput
      : undefined;
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: properties.KeySchema as KeySchemaElement[],
        AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
        // The launch gate orders its waiters by a local index (lib/launch-gate.ts).
        LocalSecondaryIndexes: properties.LocalSecondaryIndexes as LocalSecondaryIndex[] | undefined,
        // The object records' failure and open indexes (lib/object-records.ts).
        GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined,
        BillingMode: throughput ? 'PROVISIONED' : 'PAY_PER_REQUEST',
        ProvisionedThroughput: throughput && {
          ReadCapacityUnits: Number(throughput.ReadCapacityUnits),
          WriteCapacityUnits: Number(throughput.WriteCapacityUnits),
        },
      }),
    );
    tables.push({ logicalId, tableName });
  }
  return {
    endpoint,
    client,
    tables,
    close: () =>
      new Promise<void>((resolve, reject) => {
        client.destroy();
        if (mount) return resolve();
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
