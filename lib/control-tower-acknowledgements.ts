import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

import type { PipelineConfig } from './config';
import { acknowledgeOnStackSingleton } from './nag-acknowledgements';
import type { PipelineStack } from './pipeline-stack';

/**
 * The AWS Control Tower proactive controls this app does not meet in some configuration, each with
 * the CloudFormation Guard rule that checks it (the `rule` name in the control's `.guard` file that
 * @cdklabs/cdk-validator-cfnguard ships; its validation report names a finding by it).
 */
export const CONTROL_RULES = {
  'CT.CLOUDWATCH.PR.2': 'cloudwatch_log_group_retention_period_check',
  'CT.CLOUDWATCH.PR.3': 'cloudwatch_log_group_encrypted_check',
  'CT.DYNAMODB.PR.2': 'dynamodb_table_encrypted_kms_check',
  'CT.LAMBDA.PR.3': 'lambda_inside_vpc_check',
  'CT.S3.PR.2': 's3_bucket_logging_enabled_check',
  'CT.S3.PR.4': 's3_event_notifications_enabled_check',
  'CT.S3.PR.9': 's3_bucket_object_lock_enabled_check',
  'CT.S3.PR.10': 's3_bucket_default_encryption_kms_check',
  'CT.SQS.PR.1': 'sqs_dlq_check',
  'CT.STEPFUNCTIONS.PR.2': 'step_functions_state_machine_tracing_enabled_check',
} as const;
export type ControlId = keyof typeof CONTROL_RULES;

/** The validation plugin's name, which aws-cdk-lib takes as the namespace of its rule ids. */
export const CFN_GUARD_PLUGIN = 'cdk-validator-cfnguard';

/** The log retention CT.CLOUDWATCH.PR.2 asks for. */
export const CONTROL_TOWER_LOG_RETENTION_DAYS = 365;

/**
 * Acknowledges `control` on `scope` and everything under it, for the validation report that
 * aws-cdk-lib makes when the cfn-guard plugin runs. A Control Tower hook in an account does not
 * read acknowledgements: there, a control listed here refuses the deployment.
 */
export function acknowledgeControl(scope: IConstruct, control: ControlId, reason: string): void {
  Validations.of(scope).acknowledge({ id: controlRuleId(control), reason });
}

/** The id aws-cdk-lib gives the control's findings: the plugin's namespace and the guard rule. */
export function controlRuleId(control: ControlId): string {
  return `${CFN_GUARD_PLUGIN}::${CONTROL_RULES[control]}`;
}

/**
 * Every Control Tower control the stack does not meet in `config`, in one place, each with why.
 * The table in docs/control-tower.md says the same, control by control.
 */
export function acknowledgeControlTowerControls(stack: PipelineStack, config: PipelineConfig): void {
  const { data, network, worker, workflow, backfill, launchGate, deadLetters } = stack;
  const { launchGateCleanup, launchGateReconciler, objectRecords, objectRecorder, objectRecordSweep } = stack;
  const logGroups = [
    network.flowLogGroup,
    worker.logGroup,
    workflow.logGroup,
    backfill.logGroup,
    launchGateCleanup.logGroup,
    launchGateReconciler.logGroup,
    objectRecorder.logGroup,
    objectRecordSweep.logGroup,
  ];

  for (const logGroup of logGroups) {
    if (!logGroup) continue;
    if (config.logRetentionDays < CONTROL_TOWER_LOG_RETENTION_DAYS) {
      acknowledgeControl(
        logGroup,
        'CT.CLOUDWATCH.PR.2',
        `logRetentionDays is ${config.logRetentionDays}: the logs name every object processed, so they are kept only as long as debugging needs (docs/control-tower.md weighs the cost); set -c logRetentionDays=${CONTROL_TOWER_LOG_RETENTION_DAYS} to pass.`,
      );
    }
    if (!stack.encryption.key) {
      acknowledgeControl(
        logGroup,
        'CT.CLOUDWATCH.PR.3',
        'encryption is aws-owned: CloudWatch Logs encrypts the log data under its own keys; set -c encryption=kms to pass.',
      );
    }
  }
  if (!stack.encryption.key) {
    acknowledgeControl(
      launchGate.table,
      'CT.DYNAMODB.PR.2',
      'encryption is aws-owned: DynamoDB encrypts the table (the launch gate records: who holds a slot, who waits) under its AWS owned key; set -c encryption=kms to pass.',
    );
    acknowledgeControl(
      objectRecords.table,
      'CT.DYNAMODB.PR.2',
      "encryption is aws-owned: DynamoDB encrypts the object records (each object's status, executions, times, result location, error) under its AWS owned key; set -c encryption=kms to pass.",
    );
    acknowledgeControl(
      data.bucket,
      'CT.S3.PR.10',
      'encryption is aws-owned: the bucket is encrypted with SSE-S3; set -c encryption=kms to pass.',
    );
  }

  acknowledgeControl(
    data.accessLogBucket,
    'CT.S3.PR.10',
    "SSE-S3 in every mode: S3's log delivery writes here as a service, which under a customer managed key needs the key policy's consent or the logs silently stop; the logs hold request metadata, not object content.",
  );
  acknowledgeControl(
    data.accessLogBucket,
    'CT.S3.PR.2',
    'This is the server access log bucket: logging it into itself would log every log delivery, endlessly, and into another bucket only moves the question.',
  );
  acknowledgeControl(
    data.accessLogBucket,
    'CT.S3.PR.4',
    'Nothing acts on log deliveries; the bucket sends no events.',
  );
  acknowledgeControl(
    data.bucket,
    'CT.S3.PR.4',
    "EventBridge notifications are on, but set by aws-cdk-lib's Custom::S3BucketNotifications resource, which the rule does not read; moving them onto the bucket's own property would let that resource's deletion turn them off on an upgrade.",
  );
  acknowledgeControl(
    data.bucket,
    'CT.S3.PR.9',
    'Object Lock keeps each version from deletion until a retention date: every input and every rewrite of a result would be kept that long, the lifecycle rule could not expire old versions and removalPolicy=destroy could not empty the bucket (without a default retention it locks nothing); versioning keeps overwritten objects 30 days instead.',
  );
  acknowledgeControl(
    data.accessLogBucket,
    'CT.S3.PR.9',
    'S3 refuses to deliver server access logs into a bucket with an Object Lock default retention, and Object Lock without one locks nothing; versioning keeps deleted logs for 30 days instead.',
  );

  for (const { stateMachine } of [launchGateCleanup, launchGateReconciler]) {
    acknowledgeControl(
      stateMachine,
      'CT.STEPFUNCTIONS.PR.2',
      'The launch gate housekeeping (Express) runs every minute and calls only DynamoDB, Step Functions and CloudWatch: traces would add cost and nothing to follow; its failures are logged with their data and alarmed.',
    );
  }
  for (const { stateMachine } of [objectRecorder, objectRecordSweep]) {
    acknowledgeControl(
      stateMachine,
      'CT.STEPFUNCTIONS.PR.2',
      'The object recorder (Express, one run per object) and its sweep (every 15 minutes) call only DynamoDB, EventBridge, S3 tagging and Step Functions: traces would add cost and nothing to follow; their failures are logged with their data and alarmed.',
    );
  }

  acknowledgeControl(
    deadLetters.queue,
    'CT.SQS.PR.1',
    "This queue is itself the EventBridge rule target's dead-letter queue, read only by the replay command; a queue behind it would hold what a replay could not read.",
  );

  // aws-cdk-lib adds these handlers once per stack; they call only AWS APIs, once per deployment.
  for (const [idPrefix, what] of [
    ['BucketNotificationsHandler', "turns on the data bucket's EventBridge notifications"],
    ['Custom::VpcRestrictDefaultSG', "removes the rules of the new VPC's default security group"],
    ['Custom::S3AutoDeleteObjects', 'empties the buckets on `cdk destroy` (removalPolicy=destroy)'],
  ]) {
    acknowledgeOnStackSingleton(
      stack,
      idPrefix,
      controlRuleId('CT.LAMBDA.PR.3'),
      `aws-cdk-lib's own deploy-time handler (it ${what}): its code and network are not ours to set, and in a VPC it would need the NAT gateway or endpoints this stack avoids.`,
    );
  }
}
