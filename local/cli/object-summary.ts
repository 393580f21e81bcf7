import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { OBJECT_RECORDS_TABLE_OUTPUT, objectRecordKey } from '../../shared/object-record';
import { executionArnsOf, findRecords, type RecordReport, recordReport } from '../../shared/object-records';
import { readTemplateFile } from '../cloudformation/template';
import type { ExecutionRecord, LocalPipeline } from '../pipeline';
import { counted } from './report';

/**
 * `npm start`'s view of the objects of a run: each object version once, with its record as the local
 * DynamoDB holds it (read with `npm run status`'s queries), and the executions a duplicate event
 * started, which found the object held and ended without running a task.
 */

export interface ObjectSummary extends RecordReport {
  /** The result object's JSON content, or null when there is none. */
  readonly resultContent: unknown;
  /** Executions of this object that found it held by another and ended at once (duplicate events). */
  readonly duplicates: readonly string[];
}

/**
 * The records table's local name, from the template's output (the contract's); undefined for a
 * template without records (one synthesized before them, run with --template).
 */
export function recordsTableName(templatePath: string, pipeline: LocalPipeline): string | undefined {
  const outputs = readTemplateFile(templatePath).Outputs as
    Record<string, { Value?: { Ref?: string } }> | undefined;
  const logicalId = outputs?.[OBJECT_RECORDS_TABLE_OUTPUT]?.Value?.Ref;
  return pipeline.dynamodb.tables.find((table) => table.logicalId === logicalId)?.tableName;
}

export async function summarizeObjects(pipeline: LocalPipeline, tableName: string): Promise<ObjectSummary[]> {
  const { records } = await findRecords(DynamoDBDocumentClient.from(pipeline.dynamodb.client), tableName, {
    bucket: pipeline.bucket,
    key: pipeline.inputPrefix,
  });
  const executions = pipeline.executions();
  const held = new Set(records.flatMap(executionArnsOf));
  return Promise.all(
    records.map(async (record) => {
      const holder = executions.find((execution) => execution.executionArn === record.executionArn);
      return {
        ...recordReport(record),
        resultContent: holder && record.status === 'SUCCEEDED' ? await pipeline.readResult(holder) : null,
        duplicates: executions
          .filter((e) => !held.has(e.executionArn) && versionOf(e) === record.objectVersion)
          .map((e) => e.executionArn),
      };
    }),
  );
}

/** The record key an execution's input names (the rule's input and a restart's carry the ETag). */
function versionOf(execution: ExecutionRecord): string {
  const { etag } = execution.input as { etag?: unknown };
  return objectRecordKey(execution.bucket, execution.key, String(etag ?? '')).objectVersion;
}

/** e.g. `3 objects: 2 succeeded, 1 failed; 2 duplicate events ended at once` */
export function objectCounts(objects: readonly ObjectSummary[]): string {
  const succeeded = objects.filter((o) => o.status === 'SUCCEEDED').length;
  const failed = objects.filter((o) => o.status === 'FAILED').length;
  const open = objects.length - succeeded - failed;
  const duplicates = objects.reduce((sum, o) => sum + o.duplicates.length, 0);
  return (
    `${counted(objects.length, 'object')}: ${succeeded} succeeded, ${failed} failed` +
    (open > 0 ? `, ${open} not ended` : '') +
    (duplicates > 0 ? `; ${counted(duplicates, 'duplicate event')} ended at once` : '')
  );
}
