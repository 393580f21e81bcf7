import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import {
  FAILURES_INDEX,
  OPEN_INDEX,
  RECORD_PARTITION_KEY,
  RECORD_SORT_KEY,
  RECORD_TTL_ATTRIBUTE,
  type RecordStatus,
} from '../shared/object-record';
import { CONDITION_FAILED, GATE_CALL_TIMEOUT, GATE_RETRY } from './launch-gate';
import { PipelineTable } from './pipeline-table';

/** The name prefix `npm run redrive` gives the execution that restarts a failed object (shared/redrive.ts). */
export const RESTART_NAME_PREFIX = 'redrive-';
/**
 * DynamoDB refusing the record's key: `<key>#<etag>` passes the sort key's 1,024 bytes for S3 keys
 * of over about 990 bytes. Such an object is processed without a record (no duplicate check, no
 * result event): losing the record beats failing an object S3 accepted.
 */
export const KEY_TOO_LONG = 'DynamoDb.ValidationException';
/**
 * The error of an execution whose input has no ETag (a hand-written StartExecution): its record
 * would be keyed by it. It fails in RecordObject, before a slot or a task; see docs/object-records.md.
 */
export const INPUT_WITHOUT_ETAG = 'InputWithoutETag';
/** The most of a failure's cause a record keeps: a task's description runs to kilobytes, each a write unit. */
export const RECORDED_CAUSE_CHARS = 2_000;

export interface ObjectRecordsProps {
  /** How long a record is kept after its last write (the table's TTL). */
  readonly recordDays: number;
  /** What `cdk destroy` does with the table. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Encrypts the table.
   * @default - DynamoDB's AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The object records (shared/object-record.ts is their contract): one item per object version, put
 * by the per-object step before it claims a launch slot (`recordStates`), ended by the recorder
 * (lib/object-recorder.ts) from the execution's status-change event, repaired by its sweep when that
 * event never came.
 */
export class ObjectRecords extends Construct {
  public readonly table: dynamodb.Table;
  public readonly recordDays: number;

  constructor(scope: Construct, id: string, props: ObjectRecordsProps) {
    super(scope, id);
    if (!Number.isInteger(props.recordDays) || props.recordDays < 1) {
      throw new Error(
        `ObjectRecords recordDays ${props.recordDays} is not a whole number of days from 1: set objectRecordDays to 1 or more`,
      );
    }
    this.recordDays = props.recordDays;
    this.table = new PipelineTable(this, 'Records', {
      partitionKey: RECORD_PARTITION_KEY,
      sortKey: RECORD_SORT_KEY,
      timeToLiveAttribute: RECORD_TTL_ATTRIBUTE,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
    });
    // Sparse: only the records that have the sort key are in an index, and only their writes cost one.
    this.table.addGlobalSecondaryIndex({
      indexName: FAILURES_INDEX,
      partitionKey: { name: RECORD_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'failedAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // Keys only (and the execution): a status or duration write to an open record writes no index item.
    this.table.addGlobalSecondaryIndex({
      indexName: OPEN_INDEX,
      partitionKey: { name: RECORD_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'openSince', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['executionArn'],
    });
  }
}

/** A JSONata string literal of `text`, braces escaped so that no `%}` can end the expression early. */
export function jsonataString(text: string): string {
  return JSON.stringify(text).replace(
    /[{}]/g,
    (brace) => `\\u${brace.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The record's key, in JSONata, from an object input `{ bucket, key, etag }` at `object`; an etag
 * that is not a string (null, or none) fails the state with States.QueryEvaluationError.
 */
export function recordKeyOf(object: string) {
  const etag = `${object}.etag`;
  return {
    [RECORD_PARTITION_KEY]: { S: `{% ${object}.bucket %}` },
    [RECORD_SORT_KEY]: {
      S: `{% ${object}.key & '#' & ($type(${etag}) = 'string' ? $replace(${etag}, '"', '') : $error('the input has no etag')) %}`,
    },
  };
}

/**
 * JSONata: the version id of an object input at `object`, '' (the latest version) when it is not a
 * string: null from the rule on a bucket without versioning, or left out of a hand-written input.
 */
export function versionIdOf(object: string): string {
  return `($type(${object}.versionId) = 'string' ? ${object}.versionId : '')`;
}

/**
 * ExpressionAttributeNames for every `#name` in `expressions`: DynamoDB refuses a name no expression
 * uses, and several of ours are reserved words (bucket, status, error).
 */
export function attributeNamesIn(...expressions: string[]): Record<string, string> {
  const names = expressions.join(' ').match(/#[A-Za-z]+/g) ?? [];
  return Object.fromEntries([...new Set(names)].map((name) => [name, name.slice(1)]));
}

export interface RecordStates {
  /**
   * The conditional write that lets one execution hold the object: it goes on with the state plus
   * `result` (where the worker writes) and `receivedAtMs`; a duplicate ends at once in a Succeed
   * naming the execution that holds the object. Its other failures are the caller's to catch.
   */
  readonly put: tasks.CallAwsService;
  /**
   * The put's output, for its catch of KEY_TOO_LONG: an object whose record cannot be written is
   * processed without one.
   */
  readonly outputWithoutRecord: string;
  /**
   * The put's output, for its catch of every other error: the input and `error`, named
   * INPUT_WITHOUT_ETAG (with the fix in its cause) for an input without an ETag.
   */
  readonly outputOnError: string;
  /** Status WAITING_FOR_CAPACITY: on the path to the launch line only. */
  readonly waiting: tasks.CallAwsService;
  /** Status RUNNING and `startedAt`: the object holds a launch slot. */
  readonly running: tasks.CallAwsService;
}

/**
 * The per-object step's record writes, in `scope`, as JSONata states (the key, the TTL and the
 * restart's condition need expressions JSONPath does not have). `waiting` and `running` are
 * best-effort: a failure past their retries goes on (the ending is the recorder's either way).
 */
export function recordStates(
  scope: Construct,
  records: ObjectRecords,
  props: { outputBucket: s3.IBucket; outputPrefix: string },
): RecordStates {
  const input = '$states.input';
  const me = '$states.context.Execution.Id';
  const started = '$states.context.Execution.StartTime';
  const resultKey = `${jsonataString(props.outputPrefix)} & ${input}.key & '.json'`;
  // A bucket name is letters, digits, dots and hyphens: safe in a JSONata string as it is.
  const call = (
    id: string,
    comment: string,
    parameters: Record<string, unknown>,
    { action = 'updateItem', outputs = `{% ${input} %}` }: { action?: string; outputs?: string } = {},
  ) =>
    tasks.CallAwsService.jsonata(scope, id, {
      comment,
      outputs,
      service: 'dynamodb',
      action,
      parameters: { TableName: records.table.tableName, Key: recordKeyOf(input), ...parameters },
      iamAction: `dynamodb:${action[0].toUpperCase()}${action.slice(1)}`,
      iamResources: [records.table.tableArn],
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });

  const putUpdate =
    'SET #objectKey = :key, #etag = :etag, #versionId = :versionId, #status = :queued, #executionArn = :me,' +
    ' #receivedAt = if_not_exists(#receivedAt, :started), #openSince = :started, #resultBucket = :resultBucket,' +
    ' #resultKey = :resultKey, #expiresAt = :expiresAt' +
    ' ADD #executionArns :mine' +
    ' REMOVE #error, #cause, #exitCode, #failedAt, #startedAt, #endedAt, #waitingMs, #launchMs, #runMs';
  // The result's location is known now: naming it here spares the workflow a state. The version id
  // is made a string here too: the task's VERSION_ID override reads it, and a path to a member the
  // input lacks would fail the execution (States.Runtime, no Catch) after it took a launch slot.
  const named = `{% $merge([${input}, {'versionId': ${versionIdOf(input)}, 'result': {'bucket': '${props.outputBucket.bucketName}', 'key': ${resultKey}}, 'receivedAtMs': $toMillis(${started})}]) %}`;
  // A retry whose first answer was lost finds its own ARN; a restart may reopen a FAILED record only.
  const putCondition = 'attribute_not_exists(#bucket) OR #executionArn = :me OR #status = :reopenable';
  const put = call(
    'RecordObject',
    'Takes the object: its record, unless another execution holds it (a duplicate event). A restart by npm run redrive may take a FAILED one.',
    {
      UpdateExpression: putUpdate,
      ConditionExpression: putCondition,
      ExpressionAttributeNames: attributeNamesIn(putUpdate, putCondition),
      ExpressionAttributeValues: {
        ':key': { S: `{% ${input}.key %}` },
        ':etag': { S: `{% $replace(${input}.etag, '"', '') %}` },
        ':versionId': { S: `{% ${versionIdOf(input)} %}` },
        ':queued': { S: 'QUEUED' satisfies RecordStatus },
        ':me': { S: `{% ${me} %}` },
        ':mine': { SS: [`{% ${me} %}`] },
        ':started': { S: `{% ${started} %}` },
        ':resultBucket': { S: props.outputBucket.bucketName },
        ':resultKey': { S: `{% ${resultKey} %}` },
        ':expiresAt': { N: `{% $string(${expiresAtOf(`$toMillis(${started})`, records.recordDays)}) %}` },
        // No record has status "NONE": only a restart's condition can hold on an existing record.
        ':reopenable': {
          S: `{% $substring($states.context.Execution.Name, 0, ${RESTART_NAME_PREFIX.length}) = ${jsonataString(RESTART_NAME_PREFIX)} ? 'FAILED' : 'NONE' %}`,
        },
      },
    },
    { outputs: named },
  );
  // An input the put's expressions refuse (no ETag) is refused again on every retry.
  put.addRetry({ errors: [CONDITION_FAILED, KEY_TOO_LONG, 'States.QueryEvaluationError'], maxAttempts: 0 });
  put.addRetry(GATE_RETRY);

  const alreadyHeld = sfn.Succeed.jsonata(scope, 'ObjectAlreadyHeld', {
    comment: 'A duplicate event: another execution holds this object, named in the output.',
  });
  const findHolder = call(
    'FindObjectHolder',
    'Reads which execution holds the object, for the output.',
    {
      ProjectionExpression: '#executionArn, #status',
      ExpressionAttributeNames: attributeNamesIn('#executionArn #status'),
    },
    {
      action: 'getItem',
      outputs: `{% $merge([${input}, {'duplicateOf': $states.result.Item.executionArn.S, 'holderStatus': $states.result.Item.status.S}]) %}`,
    },
  );
  findHolder.addRetry(GATE_RETRY);
  findHolder.addCatch(alreadyHeld, { errors: ['States.ALL'], outputs: `{% ${input} %}` });
  findHolder.next(alreadyHeld);
  put.addCatch(findHolder, { errors: [CONDITION_FAILED], outputs: `{% ${input} %}` });

  const statusWrite = (id: string, comment: string, status: RecordStatus, startedAt: boolean) => {
    const update = `SET #status = :status${startedAt ? ', #startedAt = :now' : ''}`;
    const condition = '#executionArn = :me';
    const task = call(id, comment, {
      UpdateExpression: update,
      ConditionExpression: condition,
      ExpressionAttributeNames: attributeNamesIn(update, condition),
      ExpressionAttributeValues: {
        ':status': { S: status },
        ':me': { S: `{% ${me} %}` },
        ...(startedAt && { ':now': { S: '{% $states.context.State.EnteredTime %}' } }),
      },
    });
    task.addRetry({ errors: [CONDITION_FAILED], maxAttempts: 0 });
    task.addRetry(GATE_RETRY);
    return task;
  };
  // Named in the catch's output, which costs no transition: a Choice before the put would cost one per object.
  const withoutEtagCause =
    "the input has no etag, which keys the object's record: start the execution with the object's ETag " +
    '(aws s3api head-object --query ETag), as the rule and the backfill do';
  const withoutEtag = `{'Error': ${jsonataString(INPUT_WITHOUT_ETAG)}, 'Cause': ${jsonataString(withoutEtagCause)}}`;
  return {
    put,
    outputWithoutRecord: named,
    outputOnError: `{% $merge([${input}, {'error': $type(${input}.etag) = 'string' ? $states.errorOutput : ${withoutEtag}}]) %}`,
    waiting: statusWrite(
      'RecordWaitingForCapacity',
      'Every launch slot is taken: the record says so while the object waits in line.',
      'WAITING_FOR_CAPACITY',
      false,
    ),
    running: statusWrite(
      'RecordRunning',
      'The object holds a launch slot: its task starts now.',
      'RUNNING',
      true,
    ),
  };
}

/** JSONata: the TTL, `days` after the epoch milliseconds `millis`. */
export function expiresAtOf(millis: string, days: number): string {
  return `$floor(${millis} / 1000) + ${Duration.days(days).toSeconds()}`;
}
