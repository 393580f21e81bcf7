import { type DynamoDBClient, paginateQuery } from '@aws-sdk/client-dynamodb';

import { OPEN_INDEX, RECORD_PARTITION_KEY } from '../../shared/object-record';
import type { Clock } from '../clock';

/**
 * The executions of the object records not yet ended, as the records' sweep finds them: the bucket's
 * partition of the sparse OPEN_INDEX (a record is in it from its put until the recorder writes its
 * ending), which projects each record's execution.
 */
export async function openRecordExecutions(
  client: DynamoDBClient,
  tableName: string,
  bucket: string,
): Promise<string[]> {
  const executions: string[] = [];
  const pages = paginateQuery(
    { client },
    {
      TableName: tableName,
      IndexName: OPEN_INDEX,
      KeyConditionExpression: '#bucket = :bucket',
      ExpressionAttributeNames: { '#bucket': RECORD_PARTITION_KEY, '#executionArn': 'executionArn' },
      ExpressionAttributeValues: { ':bucket': { S: bucket } },
      ProjectionExpression: '#executionArn',
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) executions.push(item.executionArn?.S ?? '');
  }
  return executions;
}

export interface RecordsAtRestOptions {
  readonly clock: Clock;
  /** Counts the open records that matter (of openRecordExecutions). */
  readonly count: () => Promise<number>;
  /** Resolves when no execution runs (the sweep's and the recorder's runs end first). */
  readonly settle: () => Promise<void>;
  /** The records' sweep's schedule period. */
  readonly periodMs: number;
}

/**
 * Periods the sweep is given to close one more record: a record is looked at once it is a period
 * old (SWEEP_MIN_AGE), by the first run after that, so two periods may pass before its first repair.
 */
const PERIODS_WITHOUT_PROGRESS = 3;

/**
 * The open records left once every execution has ended, after the records' sweep has closed what it
 * could: those whose status-change event the recorder missed. Read a sweep period apart on the clock
 * until none is open, or until PERIODS_WITHOUT_PROGRESS periods close none (a page of the sweep's at a
 * time, so a backlog takes as many periods as it has pages).
 */
export async function recordsAtRest(options: RecordsAtRestOptions): Promise<number> {
  const { clock, count, settle, periodMs } = options;
  await settle();
  let open = await clock.track(count());
  let idlePeriods = 0;
  while (open > 0 && periodMs > 0 && idlePeriods < PERIODS_WITHOUT_PROGRESS) {
    await clock.sleep(periodMs);
    await settle();
    const now = await clock.track(count());
    idlePeriods = now < open ? 0 : idlePeriods + 1;
    open = now;
  }
  return open;
}
