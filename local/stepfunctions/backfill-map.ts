import { randomUUID } from 'node:crypto';

import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';

import { backfillPrefix } from '../../shared/backfill-prefix';
import { isPlainObject } from '../cloudformation/intrinsics';
import { TemplateError } from '../cloudformation/template';
import type { AslState, BackfillStateMachine, StateMachineDefinition } from './definitions';
import { ExecutionQueue } from './execution-queue';
import type { ExecutionRecord, RunExecutionOptions } from './executions';
import { compilePayloadTemplate } from './state-machine';

/**
 * The backfill state machine, locally. aws-local-stepfunctions has no Distributed Map, so this runs
 * what the Map state would: it lists the bucket as the `s3:listObjectsV2` ItemReader does (its
 * Parameters evaluated against the execution input `{ prefix }`), builds each item's input with the
 * Map's ItemSelector (`$$.Map.Item.Value` = the listing entry), runs the ItemProcessor as a state
 * machine of its own per item, at most MaxConcurrency at once, with the pipeline's task runner and
 * faults, and decides the outcome by ToleratedFailurePercentage / ToleratedFailureCount.
 */

export interface BackfillOptions {
  /** Under the input prefix, as `npm run backfill -- <sub-prefix>` takes it. @default '' */
  readonly subPrefix?: string;
  /** Keys per ListObjectsV2 page. @default 1000 (S3's maximum) */
  readonly pageSize?: number;
}

/** What the backfill runs against: the bucket it lists and the executions it starts. */
export interface BackfillTarget {
  /** The backfill state machine of the template, if it has one. */
  readonly backfill?: BackfillStateMachine;
  /** The rule's key prefix: the backfill lists under it. */
  readonly inputPrefix: string;
  /** The bucket the rule watches, the only one that exists locally. */
  readonly bucket: string;
  readonly s3: S3Client;
  /** Runs one item's processor to completion, unqueued (see LocalStepFunctions.runExecution). */
  runExecution(
    definition: StateMachineDefinition,
    input: unknown,
    options: RunExecutionOptions,
  ): Promise<ExecutionRecord>;
}

export interface BackfillResult {
  /** The listing prefix. */
  readonly prefix: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  /** Objects listed. */
  readonly items: number;
  readonly failed: number;
  /** Items not started because the run had already failed (Step Functions stops a failed Map Run). */
  readonly notStarted: number;
  readonly toleratedFailurePercentage?: number;
  readonly toleratedFailureCount?: number;
  readonly maxConcurrency: number;
  /** One per item started, in listing order. */
  readonly executions: readonly ExecutionRecord[];
}

/** A listing entry as the ItemReader hands it to the Map: ListObjectsV2's fields, the ETag quoted. */
export interface ListedObject {
  readonly Key: string;
  readonly Etag: string;
  readonly Size: number;
  /** Seconds since the epoch. */
  readonly LastModified: number;
  readonly StorageClass: string;
}

export async function runBackfill(
  pipeline: BackfillTarget,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  const backfill = pipeline.backfill;
  if (!backfill) {
    throw new TemplateError(
      'The template has no state machine with a Map state whose ItemReader is s3:listObjectsV2; ' +
        'the local backfill runs that Map: check lib/backfill.ts',
    );
  }
  const { map, mapStateName } = backfill;
  if (backfill.definition.StartAt !== mapStateName) {
    throw new TemplateError(
      `The backfill state machine ${backfill.logicalId} starts at "${String(backfill.definition.StartAt)}", not ` +
        `at its Map "${mapStateName}"; the local backfill passes the execution input straight to the Map`,
    );
  }
  const prefix = backfillPrefix(pipeline.inputPrefix, options.subPrefix);
  const listing = await listObjects(pipeline, map, { prefix }, options.pageSize);

  const processor = itemProcessorOf(backfill.logicalId, map);
  const selectItem = isPlainObject(map.ItemSelector) ? compilePayloadTemplate(map.ItemSelector) : undefined;
  const maxConcurrency = positiveInteger(map.MaxConcurrency) ?? Math.max(1, listing.length);
  const tolerance = {
    percentage:
      typeof map.ToleratedFailurePercentage === 'number' ? map.ToleratedFailurePercentage : undefined,
    count: typeof map.ToleratedFailureCount === 'number' ? map.ToleratedFailureCount : undefined,
  };
  // Step Functions tolerates no failure unless told otherwise; either threshold fails the run.
  const exceeded = (failed: number) =>
    tolerance.percentage === undefined && tolerance.count === undefined
      ? failed > 0
      : (tolerance.percentage !== undefined && failed * 100 > tolerance.percentage * listing.length) ||
        (tolerance.count !== undefined && failed > tolerance.count);

  const mapRunId = randomUUID();
  const queue = new ExecutionQueue(maxConcurrency);
  const executions: Array<ExecutionRecord | undefined> = [];
  let failed = 0;
  let notStarted = 0;
  await Promise.all(
    listing.map((object, index) =>
      queue.add(async () => {
        if (exceeded(failed)) {
          notStarted++;
          return;
        }
        const context = { Map: { Item: { Index: index, Value: object } } };
        const input = selectItem ? await selectItem(object, context) : object;
        const record = await pipeline.runExecution(processor, input, {
          name: `${mapRunId}-${index}`,
          stateMachineArn: backfill.arn,
          backfillRunArn: `${backfill.arn.replace(':stateMachine:', ':execution:')}:${mapRunId}`,
        });
        executions[index] = record;
        if (record.status !== 'SUCCEEDED') failed++;
      }),
    ),
  );
  return {
    prefix,
    status: exceeded(failed) ? 'FAILED' : 'SUCCEEDED',
    items: listing.length,
    failed,
    notStarted,
    toleratedFailurePercentage: tolerance.percentage,
    toleratedFailureCount: tolerance.count,
    maxConcurrency,
    executions: executions.filter((record): record is ExecutionRecord => record !== undefined),
  };
}

/** The objects the ItemReader would list: its Parameters applied to the input, every page, MaxItems. */
async function listObjects(
  pipeline: BackfillTarget,
  map: AslState,
  input: unknown,
  pageSize?: number,
): Promise<ListedObject[]> {
  const reader = map.ItemReader as Record<string, unknown>;
  const parameters = (
    isPlainObject(reader.Parameters) ? await compilePayloadTemplate(reader.Parameters)(input) : {}
  ) as { Bucket?: string; Prefix?: string };
  if (parameters.Bucket !== pipeline.bucket) {
    throw new TemplateError(
      `The backfill's ItemReader lists bucket ${JSON.stringify(parameters.Bucket)}, not the bucket the rule ` +
        `watches (${pipeline.bucket}); locally only that bucket exists`,
    );
  }
  const readerConfig = isPlainObject(reader.ReaderConfig) ? reader.ReaderConfig : {};
  const maxItems = positiveInteger(readerConfig.MaxItems) ?? Infinity;
  const objects: ListedObject[] = [];
  // ListObjects (v1), paged by Marker, lists what ListObjectsV2 lists. s3rver 3.7 cannot page v2: it
  // encrypts continuation tokens with DES, which the OpenSSL 3 of Node >= 17 lacks (InternalError).
  let marker: string | undefined;
  do {
    const page = await pipeline.s3.send(
      new ListObjectsCommand({
        Bucket: parameters.Bucket,
        Prefix: parameters.Prefix,
        Marker: marker,
        MaxKeys: pageSize,
      }),
    );
    const contents = page.Contents ?? [];
    for (const entry of contents) {
      objects.push({
        Key: entry.Key ?? '',
        Etag: entry.ETag ?? '',
        Size: entry.Size ?? 0,
        LastModified: Math.floor((entry.LastModified?.getTime() ?? 0) / 1000),
        StorageClass: entry.StorageClass ?? 'STANDARD',
      });
    }
    // Without a delimiter S3 sends no NextMarker: the next page starts after the last key.
    marker = page.IsTruncated ? contents.at(-1)?.Key : undefined;
  } while (marker !== undefined && objects.length < maxItems);
  return objects.slice(0, maxItems);
}

/** The ItemProcessor as a state machine of its own (without the Map-only ProcessorConfig). */
function itemProcessorOf(logicalId: string, map: AslState): StateMachineDefinition {
  const processor = map.ItemProcessor ?? map.Iterator;
  if (!isPlainObject(processor) || !isPlainObject(processor.States)) {
    throw new TemplateError(`The Map state of ${logicalId} has no ItemProcessor with States`);
  }
  const definition = { ...processor };
  delete definition.ProcessorConfig;
  return definition as StateMachineDefinition;
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
