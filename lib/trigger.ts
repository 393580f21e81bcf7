import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** EventBridge's maximums: 185 attempts spread with backoff over 24 hours, before the dead-letter queue. */
const MAX_EVENT_AGE = Duration.hours(24);
const RETRY_ATTEMPTS = 185;

export interface TriggerProps {
  /** The bucket whose "Object Created" events start executions (it must send events to EventBridge). */
  readonly bucket: s3.IBucket;
  /** Only keys under this prefix start an execution ("" for every key). */
  readonly inputPrefix: string;
  /** The state machine one event starts. */
  readonly stateMachine: sfn.IStateMachine;
  /** Where events go that could not start an execution after the retries. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The EventBridge rule on the default bus that turns an S3 "Object Created" event for
 * a key under the input prefix into one state machine execution. The execution input
 * is `{ bucket, key, etag, size, versionId }`; the key is passed as is, because
 * EventBridge (unlike classic S3 notifications) does not URL-encode it.
 */
export class Trigger extends Construct {
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: TriggerProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Starts the pipeline for objects created under "${props.inputPrefix}"`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: events.Match.prefix(props.inputPrefix) },
        },
      },
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        input: events.RuleTargetInput.fromObject({
          bucket: events.EventField.fromPath('$.detail.bucket.name'),
          key: events.EventField.fromPath('$.detail.object.key'),
          etag: events.EventField.fromPath('$.detail.object.etag'),
          size: events.EventField.fromPath('$.detail.object.size'),
          versionId: events.EventField.fromPath('$.detail.object.version-id'),
        }),
        deadLetterQueue: props.deadLetterQueue,
        maxEventAge: MAX_EVENT_AGE,
        retryAttempts: RETRY_ATTEMPTS,
      }),
    );
  }
}
