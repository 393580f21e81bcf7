import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import { RESULT_DETAIL_TYPES, RESULT_EVENT_SOURCE } from '../shared/object-record';
import { createExpressStateMachine } from './express-state-machine';
import { CONDITION_FAILED, GATE_CALL_TIMEOUT, GATE_RETRY } from './launch-gate';
import { acknowledgeWildcardResource } from './nag-acknowledgements';
import {
  expiresAtOf,
  jsonataString,
  KEY_TOO_LONG,
  type ObjectRecords,
  RECORDED_CAUSE_CHARS,
  recordKeyOf,
  versionIdOf,
} from './object-records';
import type { StateMachineLogProps } from './traced-state-machine';

/** Every ending of an execution: TIMED_OUT and ABORTED are recorded as FAILED, with that error. */
export const ENDINGS = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
/** The tag the recorder puts on an input object (with `tagInputObjects`), as GuardDuty's scan does. */
export const STATUS_TAG = 'processing-status';

export interface ObjectRecorderProps extends StateMachineLogProps {
  readonly records: ObjectRecords;
  /** The event-driven workflow: each of its executions is one object. */
  readonly workflow: sfn.IStateMachine;
  /** The backfill: its Distributed Map's child executions are one object each (the run itself is not). */
  readonly backfill: sfn.IStateMachine;
  /** Where the worker writes results: a record the recorder creates (its put never landed) names it too. */
  readonly outputBucket: s3.IBucket;
  readonly outputPrefix: string;
  /**
   * Tag each ended object under `inputPrefix` in `inputBucket` with STATUS_TAG.
   * @default - no tagging (and no tagging permission)
   */
  readonly tagging?: { readonly inputBucket: s3.IBucket; readonly inputPrefix: string };
}

/**
 * Writes each object's ending into its record and announces it: an EventBridge rule on "Step
 * Functions Execution Status Change" (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) of the per-object
 * executions starts an Express state machine (JSONata, SDK integrations only) that
 * 1. reads the ending from the event: the object (the execution's input), the result or the error
 *    and cause, the exit code (a task failure's cause is the task's description) and the durations
 *    (RecordDurations: the ECS times against the execution's start);
 * 2. writes it into the record, on condition that this execution holds the object and the record
 *    has not ended already: a duplicate's ending, and an event delivered twice, change nothing and
 *    announce nothing. A FAILED execution whose record put never landed creates its record, so a
 *    restart finds it;
 * 3. puts `Object Processed` or `Object Failed` on the default event bus;
 * 4. with `tagging`, tags the input object `processing-status=SUCCEEDED|FAILED`, keeping its other tags.
 *
 * The status-change events are best-effort: ObjectRecordSweep starts this machine with the same
 * detail for a record whose event never came.
 */
export class ObjectRecorder extends Construct {
  public readonly rule: events.Rule;
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ObjectRecorderProps) {
    super(scope, id);
    const { records } = props;
    const resultKey = (key: string) => `${jsonataString(props.outputPrefix)} & ${key} & '.json'`;

    const readEnding = sfn.Pass.jsonata(this, 'ReadEnding', {
      comment: 'The object, its ending and its durations, from the status-change event.',
      outputs: `{% (
        $d := $states.input.detail;
        $object := $parse($d.input);
        $output := $type($d.output) = 'string' ? $parse($d.output) : {};
        $succeeded := $d.status = 'SUCCEEDED';
        $cause := $type($d.cause) = 'string' ? $d.cause : '';
        $fromCause := function($found) { $number($found[0].groups[0]) };
        $created := $succeeded ? $output.task.CreatedAt : $fromCause($match($cause, /"CreatedAt"\\s*:\\s*(\\d+)/));
        $started := $succeeded ? $output.task.StartedAt : $fromCause($match($cause, /"StartedAt"\\s*:\\s*(\\d+)/));
        $stopped := $succeeded ? $output.task.StoppedAt : $fromCause($match($cause, /"StoppedAt"\\s*:\\s*(\\d+)/));
        {
          'key': {
            'bucket': $object.bucket,
            'key': $object.key,
            'etag': $type($object.etag) = 'string' ? $replace($object.etag, '"', '') : '',
            'versionId': ${versionIdOf('$object')}
          },
          'executionArn': $d.executionArn,
          'status': $succeeded ? 'SUCCEEDED' : 'FAILED',
          'receivedAt': $fromMillis($d.startDate),
          'endedAt': $fromMillis($d.stopDate),
          'expiresAt': ${expiresAtOf('$d.stopDate', records.recordDays)},
          'error': $succeeded ? undefined : ($type($d.error) = 'string' ? $d.error : $d.status),
          'cause': $succeeded ? undefined : $substring($cause, 0, ${RECORDED_CAUSE_CHARS}),
          'exitCode': $succeeded ? $output.task.ExitCodes[0] : $fromCause($match($cause, /"ExitCode"\\s*:\\s*(-?\\d+)/)),
          'durations': {
            'waitingMs': $created - $d.startDate,
            'launchMs': $started - $created,
            'runMs': $stopped - $started
          }
        }
      ) %}`,
    });

    // Each optional part of the write is in the expression only with its value (DynamoDB refuses
    // names and values no expression uses).
    const update = `(
      $e := $states.input;
      $failed := $e.status = 'FAILED';
      $sets := $append(
        ['#status = :status', '#endedAt = :endedAt', '#expiresAt = :expiresAt'],
        $append(
          $failed ? [
            '#error = :error', '#cause = :cause', '#failedAt = :endedAt',
            '#objectKey = if_not_exists(#objectKey, :key)', '#etag = if_not_exists(#etag, :etag)',
            '#versionId = if_not_exists(#versionId, :versionId)', '#executionArn = if_not_exists(#executionArn, :arn)',
            '#receivedAt = if_not_exists(#receivedAt, :receivedAt)',
            '#resultBucket = if_not_exists(#resultBucket, :resultBucket)', '#resultKey = if_not_exists(#resultKey, :resultKey)'
          ] : [],
          $map($filter(['exitCode', 'waitingMs', 'launchMs', 'runMs'], function($n) {
            $exists($lookup($merge([$e.durations, {'exitCode': $failed ? $e.exitCode : undefined}]), $n))
          }), function($n) { '#' & $n & ' = :' & $n })
        )
      );
      'SET ' & $join($sets, ', ') & ($failed ? ' ADD #executionArns :arns' : '') & ' REMOVE #openSince'
    )`;
    const condition = `($states.input.status = 'FAILED'
      ? 'attribute_not_exists(#bucket) OR (#executionArn = :arn AND #status <> :status)'
      : '#executionArn = :arn AND #status <> :status')`;
    const values = `(
      $e := $states.input;
      $failed := $e.status = 'FAILED';
      $number := function($v) { $exists($v) ? {'N': $string($v)} : undefined };
      $merge([
        {
          ':status': {'S': $e.status},
          ':endedAt': {'S': $e.endedAt},
          ':expiresAt': {'N': $string($e.expiresAt)},
          ':arn': {'S': $e.executionArn},
          ':waitingMs': $number($e.durations.waitingMs),
          ':launchMs': $number($e.durations.launchMs),
          ':runMs': $number($e.durations.runMs)
        },
        $failed ? {
          ':error': {'S': $e.error},
          ':cause': {'S': $e.cause},
          ':exitCode': $number($e.exitCode),
          ':key': {'S': $e.key.key},
          ':etag': {'S': $e.key.etag},
          ':versionId': {'S': $e.key.versionId},
          ':receivedAt': {'S': $e.receivedAt},
          ':resultBucket': {'S': '${props.outputBucket.bucketName}'},
          ':resultKey': {'S': ${resultKey('$e.key.key')}},
          ':arns': {'SS': [$e.executionArn]}
        } : {}
      ])
    )`;
    const writeEnding = tasks.CallAwsService.jsonata(this, 'WriteEnding', {
      comment:
        'Ends the record, if this execution holds the object and it has not ended yet; a FAILED execution whose put never landed creates it.',
      service: 'dynamodb',
      action: 'updateItem',
      parameters: {
        TableName: records.table.tableName,
        Key: recordKeyOf('$states.input.key'),
        UpdateExpression: `{% ${update} %}`,
        ConditionExpression: `{% ${condition} %}`,
        ExpressionAttributeNames: `{% (
            $names := $distinct($match(${update} & ' ' & ${condition}, /#[A-Za-z]+/).match);
            $merge($map($names, function($n) { {$n: $substring($n, 1)} }))
          ) %}`,
        ExpressionAttributeValues: `{% ${values} %}`,
        ReturnValues: 'ALL_NEW',
      },
      iamAction: 'dynamodb:UpdateItem',
      iamResources: [records.table.tableArn],
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
      outputs: `{% $merge([$states.input, {
          'attempts': $count($states.result.Attributes.executionArns.SS),
          'result': {'bucket': $states.result.Attributes.resultBucket.S, 'key': $states.result.Attributes.resultKey.S}
        }]) %}`,
    });
    // The refusal is an answer, not a fault to retry.
    writeEnding.addRetry({ errors: [CONDITION_FAILED, KEY_TOO_LONG], maxAttempts: 0 });
    writeEnding.addRetry(GATE_RETRY);
    const notHolder = sfn.Succeed.jsonata(this, 'NothingToRecord', {
      comment:
        'The ending is recorded already (an event delivered twice), or this execution never held the object (a duplicate).',
    });
    writeEnding.addCatch(notHolder, { errors: [CONDITION_FAILED, KEY_TOO_LONG] });

    const announce = retried(
      tasks.EventBridgePutEvents.jsonata(this, 'AnnounceEnding', {
        comment: 'Object Processed or Object Failed, on the default event bus.',
        entries: [
          {
            source: RESULT_EVENT_SOURCE,
            detailType: `{% $states.input.status = 'SUCCEEDED' ? ${jsonataString(RESULT_DETAIL_TYPES.SUCCEEDED)} : ${jsonataString(RESULT_DETAIL_TYPES.FAILED)} %}`,
            detail: sfn.TaskInput.fromText(`{% (
              $e := $states.input;
              $merge([
                $e.key,
                {'status': $e.status, 'executionArn': $e.executionArn, 'attempts': $e.attempts, 'durations': $e.durations},
                $e.status = 'SUCCEEDED'
                  ? {'result': $e.result}
                  : {'error': $e.error, 'cause': $e.cause, 'exitCode': $e.exitCode}
              ])
            ) %}`),
          },
        ],
        outputs: '{% $states.input %}',
        taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
      }),
    );
    const recorded = sfn.Succeed.jsonata(this, 'Recorded');

    readEnding.next(writeEnding);
    writeEnding.next(announce);
    announce.next(props.tagging ? this.tagStates(props.tagging, recorded) : recorded);

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createExpressStateMachine(this, {
      ...props,
      queryLanguage: sfn.QueryLanguage.JSONATA,
      comment:
        "Records an object's ending (from its execution's status change): the record, the result event, the optional tag",
      definition: readEnding,
      acknowledgements: {
        logging:
          'The recorder runs once per object: its failures are logged with their data; logging every event would add a third to its cost.',
        tracing:
          'The recorder runs once per object and calls only DynamoDB, EventBridge and S3 tagging: traces would add cost and nothing to follow.',
        wildcard: 'X-Ray and CloudWatch Logs delivery take no resource.',
      },
    }));

    if (props.tagging) {
      acknowledgeWildcardResource(
        this.stateMachine.role,
        props.tagging.inputBucket.arnForObjects(`${props.tagging.inputPrefix}*`),
        'Tagging the ended input object, whose key exists only at run time: limited to the input prefix, tagging actions only (no read, no write of the object).',
      );
    }

    this.rule = new events.Rule(this, 'Rule', {
      description: "An object's execution ended: record it and announce it",
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ENDINGS,
          // The backfill run itself is not an object: only its Map's children (`<backfill ARN>/<label>`).
          stateMachineArn: events.Match.anyOf(
            props.workflow.stateMachineArn,
            events.Match.prefix(`${props.backfill.stateMachineArn}/`),
          ),
        },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  /**
   * Tags the input object (its version when the input names one), keeping its other tags: only under
   * the input prefix, the only place the role may.
   */
  private tagStates(tagging: NonNullable<ObjectRecorderProps['tagging']>, done: sfn.State): sfn.State {
    const { inputBucket, inputPrefix } = tagging;
    const object = '$states.input.key';
    const tagPair = (version: boolean) => {
      const versionId = version ? { VersionId: `{% ${object}.versionId %}` } : {};
      const actions = version
        ? ['s3:GetObjectVersionTagging', 's3:PutObjectVersionTagging']
        : ['s3:GetObjectTagging', 's3:PutObjectTagging'];
      const suffix = version ? 'Version' : '';
      const read = retried(
        tasks.CallAwsService.jsonata(this, `ReadTags${suffix}`, {
          service: 's3',
          action: 'getObjectTagging',
          parameters: { Bucket: `{% ${object}.bucket %}`, Key: `{% ${object}.key %}`, ...versionId },
          iamAction: actions[0],
          iamResources: [inputBucket.arnForObjects(`${inputPrefix}*`)],
          taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
          outputs: "{% $merge([$states.input, {'tags': $states.result.TagSet}]) %}",
        }),
      );
      const write = retried(
        tasks.CallAwsService.jsonata(this, `WriteStatusTag${suffix}`, {
          comment: `Replaces ${STATUS_TAG} and keeps the object's other tags.`,
          service: 's3',
          action: 'putObjectTagging',
          parameters: {
            Bucket: `{% ${object}.bucket %}`,
            Key: `{% ${object}.key %}`,
            ...versionId,
            Tagging: {
              TagSet: `{% $append($filter($states.input.tags, function($t) { $t.Key != '${STATUS_TAG}' }), [{'Key': '${STATUS_TAG}', 'Value': $states.input.status}]) %}`,
            },
          },
          iamAction: actions[1],
          iamResources: [inputBucket.arnForObjects(`${inputPrefix}*`)],
          taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
        }),
      );
      return read.next(write.next(done));
    };
    return sfn.Choice.jsonata(this, 'IsInputObject', {
      comment: 'Only objects under the input prefix are tagged (a backfill may list elsewhere).',
    })
      .when(
        sfn.Condition.jsonata(
          `{% $substring(${object}.key, 0, ${inputPrefix.length}) = ${jsonataString(inputPrefix)} %}`,
        ),
        sfn.Choice.jsonata(this, 'IsVersionNamed')
          .when(sfn.Condition.jsonata(`{% ${object}.versionId != '' %}`), tagPair(true))
          .otherwise(tagPair(false)),
      )
      .otherwise(done);
  }
}

function retried<T extends sfn.TaskStateBase>(task: T): T {
  task.addRetry(GATE_RETRY);
  return task;
}
