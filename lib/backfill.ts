import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { ProcessObjectStep, ProcessObjectStepProps } from './process-object-step';
import { createTracedStateMachine, StateMachineLogProps } from './traced-state-machine';

/**
 * The run fails once more than this share of objects failed; below it, the failed objects
 * are in the map run's report and the run succeeds.
 */
const TOLERATED_FAILURE_PERCENTAGE = 10;
/** One backfill run may take this long in all, or one object's longest path if that is longer. */
const RUN_TIMEOUT = Duration.days(7);

export interface BackfillProps extends ProcessObjectStepProps, StateMachineLogProps {
  /** The bucket whose listing under the execution input's `prefix` is processed. */
  readonly bucket: s3.IBucket;
  /** At most this many tasks run at once. */
  readonly maxConcurrency: number;
}

/**
 * Processes objects that already exist: a Distributed Map over the bucket listing
 * under `$.prefix` (the execution input `{ "prefix": "incoming/2024/" }`), running for
 * each object the same per-object step as the event-driven workflow (same task
 * definition, overrides, retries and catch), at most `maxConcurrency` at a time.
 */
export class Backfill extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly map: sfn.DistributedMap;
  public readonly step: ProcessObjectStep;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BackfillProps) {
    super(scope, id);
    this.step = new ProcessObjectStep(this, 'ProcessObjectStep', props);

    this.map = new sfn.DistributedMap(this, 'ForEachExistingObject', {
      itemReader: new sfn.S3ObjectsItemReader({
        bucket: props.bucket,
        prefix: sfn.JsonPath.stringAt('$.prefix'),
      }),
      // The same input shape an "Object Created" event produces; the listing has no
      // version id, so the worker reads the current version.
      itemSelector: {
        bucket: props.bucket.bucketName,
        key: sfn.JsonPath.stringAt('$$.Map.Item.Value.Key'),
        etag: sfn.JsonPath.stringAt('$$.Map.Item.Value.Etag'),
        size: sfn.JsonPath.numberAt('$$.Map.Item.Value.Size'),
        versionId: '',
      },
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: TOLERATED_FAILURE_PERCENTAGE,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      // Per-object results stay in the child executions; collecting them here would
      // exceed the 256 KiB state payload limit on large buckets.
      resultPath: sfn.JsonPath.DISCARD,
    });
    this.map.itemProcessor(this.step.startState);

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createTracedStateMachine(this, {
      comment: 'Runs the worker for every object that already exists under $.prefix',
      definition: this.map,
      timeout: maxDuration(RUN_TIMEOUT, this.step.longestRun),
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      logEncryptionKey: props.logEncryptionKey,
    }));
  }
}

function maxDuration(a: Duration, b: Duration): Duration {
  return a.toSeconds() >= b.toSeconds() ? a : b;
}
