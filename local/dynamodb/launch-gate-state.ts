import { type DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';

import type { LocalDeployment } from '../cloudformation/template';

/**
 * The launch gate's state as its table holds it (docs/launch-gate.md, "The state, keyed by
 * execution"; the keys are lib/launch-gate.ts' SLOTS_KEY and WAITERS_PARTITION): the slot item's
 * `holders` set and one item per waiter. Read consistently, as the gate's own calls read it.
 */

/** The stack output that names the gate's table (lib/pipeline-stack.ts). */
export const LAUNCH_GATE_TABLE_OUTPUT = 'LaunchSlotsTable';

export interface LaunchGateState {
  /** Executions holding a slot. */
  readonly holders: number;
  /** Executions in line for one. */
  readonly waiters: number;
}

/** The gate's table name in `deployment`, or undefined for a template without the gate. */
export function launchGateTableName(deployment: LocalDeployment): string | undefined {
  const outputs = (deployment.template.Outputs ?? {}) as Record<string, { Value?: unknown } | undefined>;
  const output = outputs[LAUNCH_GATE_TABLE_OUTPUT];
  return output ? String(deployment.resolve(output.Value)) : undefined;
}

export async function readLaunchGate(client: DynamoDBClient, tableName: string): Promise<LaunchGateState> {
  const slots = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
      ConsistentRead: true,
      ProjectionExpression: 'holders',
    }),
  );
  let waiters = 0;
  let startKey: QueryCommand['input']['ExclusiveStartKey'];
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :waiters',
        ExpressionAttributeValues: { ':waiters': { S: 'waiters' } },
        ConsistentRead: true,
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      }),
    );
    waiters += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { holders: slots.Item?.holders?.SS?.length ?? 0, waiters };
}
