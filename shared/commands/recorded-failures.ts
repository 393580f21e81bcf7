import { type DynamoDBClient, paginateQuery } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';

import type { FailedExecution } from '../failed-executions';
import { FAILURES_INDEX, RECORD_PARTITION_KEY } from '../object-record';
import {
  backfillRunOf,
  closedSince,
  describeFailure,
  type FailureQuery,
  fromDescription,
} from './execution-history';

/**
 * The failures of a stack that keeps object records (shared/object-record.ts): the FAILED records
 * of the window, read from the table's sparse failure index in one Query per page, instead of
 * listing every execution of both workflows. Each is then described (DescribeExecution, and for a
 * backfill's object its Map Run and run), so the report is the one the history scan gives. A restart
 * (`npm run redrive`) takes the object's record out of the index, so a restarted failure is gone
 * without asking Step Functions. A backfill run that failed by itself has no record: the backfill
 * workflow's few failed runs are still listed.
 */

export interface RecordedFailureQuery extends FailureQuery {
  /** The records table (output ObjectRecordsTableName). */
  readonly tableName: string;
  /** The bucket the pipeline watches (output BucketName): the index's partition. */
  readonly bucket: string;
}

export async function listRecordedFailures(
  sfn: SFNClient,
  dynamodb: DynamoDBClient,
  query: RecordedFailureQuery,
): Promise<FailedExecution[]> {
  const failures: FailedExecution[] = [];
  const runs = new Map<string, Promise<DescribeExecutionCommandOutput>>();
  const pages = paginateQuery(
    { client: dynamodb },
    {
      TableName: query.tableName,
      IndexName: FAILURES_INDEX,
      KeyConditionExpression: '#bucket = :bucket AND #failedAt >= :since',
      ExpressionAttributeNames: { '#bucket': RECORD_PARTITION_KEY, '#failedAt': 'failedAt' },
      ExpressionAttributeValues: {
        ':bucket': { S: query.bucket },
        ':since': { S: query.since.toISOString() },
      },
      // Only the ARN: the rest comes from DescribeExecution.
      ProjectionExpression: 'executionArn',
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const executionArn = item.executionArn?.S;
      if (!executionArn) continue;
      const description = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const failure = fromDescription(description, 'object');
      const { mapRunArn } = description;
      if (!mapRunArn) {
        failures.push(failure);
        continue;
      }
      let run = runs.get(mapRunArn);
      if (!run) {
        run = describeRunOf(sfn, mapRunArn);
        runs.set(mapRunArn, run);
      }
      failures.push({ ...failure, backfillRun: backfillRunOf(await run) });
    }
  }
  const runsWithFailedObjects = new Set(failures.map((f) => f.backfillRun?.executionArn));
  for (const run of await closedSince(sfn, { stateMachineArn: query.backfillArn }, query.since)) {
    if (!runsWithFailedObjects.has(run.executionArn)) {
      failures.push(await describeFailure(sfn, run.executionArn, 'backfill'));
    }
  }
  return failures.sort((a, b) => a.stopDate.getTime() - b.stopDate.getTime());
}

/** The backfill run a Map Run belongs to (DescribeMapRun), described. */
async function describeRunOf(sfn: SFNClient, mapRunArn: string): Promise<DescribeExecutionCommandOutput> {
  const { executionArn } = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
}
