import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  type AttributeDefinition,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

import { isPlainObject } from '../cloudformation/intrinsics';
import { type LocalDeployment, TemplateError } from '../cloudformation/template';
import { InjectedRequestHandler } from './injected-requests';
import { DynamoDbJsonRequests, type DynamoDbSender } from './json-requests';

/**
 * DynamoDB, locally: dynalite (a DynamoDB API server on LevelDB) on 127.0.0.1, with the template's
 * `AWS::DynamoDB::Table`s created under their local names (the `Ref`, or `TableName` when the
 * template sets one). With a directory, the tables are kept across runs, as the execution journal
 * is: an object's record outlives the run that wrote it (so `--failures` and a second upload of the
 * same bytes see it, as on AWS), and what the launch gate held for executions of an earlier run is
 * released by its reconciler, since the journal marks those ABORTED. A table whose keys or indexes
 * the template changed is created again, empty. Clients reach it with the SDK's DynamoDB client, so
 * requests, validation and errors are the DynamoDB API's; Step Functions' own calls reach it with
 * their JSON as it is (json-requests.ts). Behind the local endpoint the endpoint
 * hands it each DynamoDB request.
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
  /**
   * For Step Functions' own calls (the engine's Task states): their JSON handed to dynalite in the
   * process, without the SDK's serializing, signing and parsing; the same answers and error names.
   */
  readonly stepFunctionsRequests: DynamoDbSender;
  readonly tables: readonly LocalTable[];
  close(): Promise<void>;
}

/** The local endpoint (local/endpoint/server.ts) DynamoDB is served behind, and the credentials it accepts. */
export interface DynamoDbMount {
  readonly url: string;
  serveDynamoDb(handler: RequestListener): void;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/**
 * `mount`: serve behind the local endpoint (@default - on its own port, any credentials);
 * `directory`: keep the tables there across runs (@default - in memory).
 */
export async function startLocalDynamoDb(
  deployment: LocalDeployment,
  mount?: DynamoDbMount,
  directory?: string,
): Promise<LocalDynamoDb> {
  const server = dynalite({ path: directory, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // A kept directory needs the server to listen, even when mounted: closing the server is what
  // closes (and unlocks) its LevelDB. In memory, a mounted server is only a request handler.
  const listens = !mount || directory !== undefined;
  if (listens) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  }
  let endpoint = listens ? `http://127.0.0.1:${(server.address() as AddressInfo).port}` : '';
  if (mount) {
    // The endpoint emits each DynamoDB request to dynalite's request handler.
    mount.serveDynamoDb((request, response) => server.emit('request', request, response));
    endpoint = mount.url;
  }
  // This process's own callers (the engine, the gate's readers) hand their requests to dynalite's
  // handler directly, as the endpoint would after checking the administrator's signature.
  const inProcess = new InjectedRequestHandler((request, response) =>
    server.emit('request', request, response),
  );
  const client = new DynamoDBClient({
    region: deployment.region,
    endpoint,
    credentials: { ...(mount?.credentials ?? LOCAL_DYNAMODB_CREDENTIALS) },
    // Retries are the state machine's (its Retry on DynamoDB's throttling errors), not the client's.
    maxAttempts: 1,
    requestHandler: inProcess,
  });
  // The SDK's logger middleware makes each call's log record (walking the input and output for
  // sensitive fields) even for its no-op logger, and the engine makes thousands of calls.
  client.middlewareStack.remove('loggerMiddleware');
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
    const definition = {
      TableName: tableName,
      KeySchema: properties.KeySchema as KeySchemaElement[],
      AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
      // The launch gate orders its waiters by a local index (lib/launch-gate.ts).
      LocalSecondaryIndexes: properties.LocalSecondaryIndexes as LocalSecondaryIndex[] | undefined,
      // The object records' failure and open indexes (lib/object-records.ts).
      GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined,
    };
    if (await keptAsDefined(client, definition)) {
      tables.push({ logicalId, tableName });
      continue;
    }
    await client.send(
      new CreateTableCommand({
        ...definition,
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
    stepFunctionsRequests: new DynamoDbJsonRequests(inProcess),
    tables,
    close: () =>
      new Promise<void>((resolve, reject) => {
        client.destroy();
        if (!listens) return resolve();
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The parts of a table's definition that decide what it can hold and answer. */
interface TableDefinition {
  readonly TableName: string;
  readonly KeySchema: readonly KeySchemaElement[];
  readonly AttributeDefinitions: readonly AttributeDefinition[];
  readonly LocalSecondaryIndexes?: readonly LocalSecondaryIndex[];
  readonly GlobalSecondaryIndexes?: readonly GlobalSecondaryIndex[];
}

/**
 * Whether a table kept from an earlier run has this definition (then it is used as it is);
 * one with other keys or indexes is deleted, to be created again.
 */
async function keptAsDefined(client: DynamoDBClient, definition: TableDefinition): Promise<boolean> {
  let kept;
  try {
    kept = (await client.send(new DescribeTableCommand({ TableName: definition.TableName }))).Table;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return false;
    throw error;
  }
  const shape = (table: {
    KeySchema?: readonly KeySchemaElement[];
    AttributeDefinitions?: readonly AttributeDefinition[];
    LocalSecondaryIndexes?: ReadonlyArray<{ IndexName?: string; KeySchema?: readonly KeySchemaElement[] }>;
    GlobalSecondaryIndexes?: ReadonlyArray<{ IndexName?: string; KeySchema?: readonly KeySchemaElement[] }>;
  }) =>
    JSON.stringify({
      keys: table.KeySchema?.map(({ AttributeName, KeyType }) => [AttributeName, KeyType]),
      attributes: table.AttributeDefinitions?.map(({ AttributeName, AttributeType }) => [
        AttributeName,
        AttributeType,
      ]).sort(),
      indexes: [...(table.LocalSecondaryIndexes ?? []), ...(table.GlobalSecondaryIndexes ?? [])]
        .map(({ IndexName, KeySchema }) => [IndexName, KeySchema?.map((k) => [k.AttributeName, k.KeyType])])
        .sort(),
    });
  if (kept && shape(kept) === shape(definition)) return true;
  await client.send(new DeleteTableCommand({ TableName: definition.TableName }));
  return false;
}
