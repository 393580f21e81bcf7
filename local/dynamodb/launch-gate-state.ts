import { type DynamoDBClient, GetItemCommand, paginateQuery } from '@aws-sdk/client-dynamodb';

import type { Clock } from '../clock';
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
  return deployment.output(LAUNCH_GATE_TABLE_OUTPUT);
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
  const pages = paginateQuery(
    { client },
    {
      TableName: tableName,
      KeyConditionExpression: 'pk = :waiters',
      ExpressionAttributeValues: { ':waiters': { S: 'waiters' } },
      ConsistentRead: true,
      Select: 'COUNT',
    },
  );
  for await (const page of pages) waiters += page.Count ?? 0;
  return { holders: slots.Item?.holders?.SS?.length ?? 0, waiters };
}

export interface GateAtRestOptions {
  readonly clock: Clock;
  /** Reads the gate (readLaunchGate). */
  readonly read: () => Promise<LaunchGateState>;
  /** Resolves when no execution runs (what a reconciler run woke runs to its end first). */
  readonly settle: () => Promise<void>;
  /** The reconciler's schedule period. */
  readonly periodMs: number;
  /** How many periods to give it at most. */
  readonly periods: number;
}

/**
 * The gate at rest, once every execution has ended: read until no execution holds or waits for a
 * slot, a reconciler period apart on the clock, for at most `periods` periods; what is left then is
 * returned (and lost).
 */
export async function launchGateAtRest(options: GateAtRestOptions): Promise<LaunchGateState> {
  const { clock, read, settle, periodMs, periods } = options;
  await settle();
  const restBy = clock.now() + periods * periodMs;
  for (;;) {
    const gate = await clock.track(read());
    const left = restBy - clock.now();
    if ((gate.holders === 0 && gate.waiters === 0) || left <= 0) return gate;
    await clock.sleep(Math.min(periodMs, left));
    await settle();
  }
}
