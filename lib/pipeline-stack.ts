import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

import { OBJECT_RECORDS_TABLE_OUTPUT } from '../shared/object-record';
import { Backfill } from './backfill';
import { launchSlots, PipelineConfig } from './config';
import { acknowledgeControlTowerControls } from './control-tower-acknowledgements';
import { Data } from './data';
import { DeadLetters } from './dead-letters';
import { Encryption } from './encryption';
import { LaunchGate } from './launch-gate';
import { LaunchGateCleanup } from './launch-gate-cleanup';
import { LaunchGateReconciler } from './launch-gate-reconciler';
import { Monitoring } from './monitoring';
import { Network } from './network';
import { ObjectRecordSweep } from './object-record-sweep';
import { ObjectRecorder } from './object-recorder';
import { ObjectRecords } from './object-records';
import { ProcessObjectStepProps } from './process-object-step';
import { Trigger } from './trigger';
import { Worker } from './worker';
import { Workflow } from './workflow';

export interface PipelineStackProps extends StackProps {
  /** The validated configuration (`parseConfig` of the CDK context); every default is already applied. */
  readonly config: PipelineConfig;
}

/** Assembles the pipeline; each concern lives in its own construct. */
export class PipelineStack extends Stack {
  public readonly encryption: Encryption;
  public readonly data: Data;
  public readonly network: Network;
  public readonly worker: Worker;
  public readonly launchGate: LaunchGate;
  public readonly launchGateCleanup: LaunchGateCleanup;
  public readonly launchGateReconciler: LaunchGateReconciler;
  public readonly objectRecords: ObjectRecords;
  public readonly objectRecorder: ObjectRecorder;
  public readonly objectRecordSweep: ObjectRecordSweep;
  public readonly workflow: Workflow;
  public readonly trigger: Trigger;
  public readonly deadLetters: DeadLetters;
  public readonly backfill: Backfill;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.encryption = new Encryption(this, 'Encryption', { mode: config.encryption, removalPolicy });
    const { key } = this.encryption;

    this.data = new Data(this, 'Data', {
      removalPolicy,
      sseKmsKeyArns: config.kmsKeyArns,
      encryptionKey: key,
    });
    const outputBucket = config.outputBucket
      ? s3.Bucket.fromBucketName(this, 'OutputBucket', config.outputBucket)
      : this.data.bucket;

    this.network = new Network(this, 'Network', {
      mode: config.network,
      existingVpc: config.vpcId ? { vpcId: config.vpcId, subnetIds: config.subnetIds } : undefined,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });

    this.worker = new Worker(this, 'Worker', {
      vpc: this.network.vpc,
      inputBucket: this.data.bucket,
      inputPrefix: config.inputPrefix,
      outputBucket,
      outputPrefix: config.outputPrefix,
      decryptKeyArns: config.kmsKeyArns,
      cpu: config.cpu,
      memoryMiB: config.memoryMiB,
      architecture: config.architecture,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
      image: config.image,
      pullThroughVpcEndpoints: config.network === 'private' && config.vpcId === undefined,
    });

    // One gate for the event-driven and backfill workflows: they draw on the same Fargate quota.
    this.launchGate = new LaunchGate(this, 'LaunchGate', {
      slots: launchSlots(config.fargateVcpuQuota, config.cpu),
      encryptionKey: key,
    });

    this.objectRecords = new ObjectRecords(this, 'ObjectRecords', {
      recordDays: config.objectRecordDays,
      removalPolicy,
      encryptionKey: key,
    });

    this.workflow = new Workflow(this, 'Workflow', {
      ...this.workflowStepProps(config, outputBucket),
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });

    this.deadLetters = new DeadLetters(this, 'DeadLetters', { removalPolicy, encryptionKey: key });
    this.trigger = new Trigger(this, 'Trigger', {
      bucket: this.data.bucket,
      inputPrefix: config.inputPrefix,
      stateMachine: this.workflow.stateMachine,
      deadLetterQueue: this.deadLetters.queue,
    });

    this.backfill = new Backfill(this, 'Backfill', {
      ...this.workflowStepProps(config, outputBucket),
      bucket: this.data.bucket,
      maxConcurrency: config.backfillConcurrency,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });

    const gated = {
      gate: this.launchGate,
      stateMachines: [this.workflow.stateMachine, this.backfill.stateMachine],
    };
    this.launchGateCleanup = new LaunchGateCleanup(this, 'LaunchGateCleanup', {
      ...gated,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });
    this.launchGateReconciler = new LaunchGateReconciler(this, 'LaunchGateReconciler', {
      ...gated,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });

    const perObject = [this.workflow.stateMachine, this.backfill.stateMachine];
    this.objectRecorder = new ObjectRecorder(this, 'ObjectRecorder', {
      records: this.objectRecords,
      workflow: this.workflow.stateMachine,
      backfill: this.backfill.stateMachine,
      outputBucket,
      outputPrefix: config.outputPrefix,
      tagging: config.tagInputObjects
        ? { inputBucket: this.data.bucket, inputPrefix: config.inputPrefix }
        : undefined,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });
    this.objectRecordSweep = new ObjectRecordSweep(this, 'ObjectRecordSweep', {
      records: this.objectRecords,
      bucketName: this.data.bucket.bucketName,
      stateMachines: perObject,
      recorder: this.objectRecorder.stateMachine,
      logRetention,
      logRemovalPolicy: removalPolicy,
      logEncryptionKey: key,
    });

    // The key, used only through the service each principal reaches it by (a no-op without one).
    this.encryption.allowEventBridgeDeadLetters();
    this.encryption.grantThrough(this.worker.taskDefinition.taskRole, [
      { service: 's3', write: outputBucket === this.data.bucket },
    ]);
    for (const { role } of [
      this.workflow.stateMachine,
      this.backfill.stateMachine,
      this.launchGateCleanup.stateMachine,
      this.launchGateReconciler.stateMachine,
      this.objectRecorder.stateMachine,
      this.objectRecordSweep.stateMachine,
    ]) {
      this.encryption.grantThrough(role, [{ service: 'dynamodb', write: true }]);
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stateMachine: this.workflow.stateMachine,
      backfillStateMachine: this.backfill.stateMachine,
      deadLetterQueue: this.deadLetters.queue,
      rule: this.trigger.rule,
      launchGateTable: this.launchGate.table,
      launchGateHousekeeping: {
        cleanup: this.launchGateCleanup.stateMachine,
        reconciler: this.launchGateReconciler.stateMachine,
      },
      objectRecording: {
        recorder: this.objectRecorder.stateMachine,
        sweep: this.objectRecordSweep.stateMachine,
      },
      executionLogGroups: [this.workflow.logGroup, this.backfill.logGroup],
      alarmEmail: config.alarmEmail,
    });

    acknowledgeControlTowerControls(this, config);

    const bucketName = this.data.bucket.bucketName;
    new CfnOutput(this, 'BucketName', { value: bucketName });
    new CfnOutput(this, 'InputPrefix', { value: config.inputPrefix });
    new CfnOutput(this, 'OutputLocation', {
      value: `s3://${outputBucket.bucketName}/${config.outputPrefix}`,
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'WorkerLogGroup', { value: this.worker.logGroup.logGroupName });
    new CfnOutput(this, 'WorkflowLogGroup', { value: this.workflow.logGroup.logGroupName });
    new CfnOutput(this, 'RuleName', { value: this.trigger.rule.ruleName });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetters.queue.queueUrl });
    new CfnOutput(this, 'BackfillStateMachineArn', { value: this.backfill.stateMachine.stateMachineArn });
    new CfnOutput(this, 'LaunchSlotsTable', {
      description:
        'The launch gate: the item slots lists the executions holding a slot, the waiters items those waiting',
      value: this.launchGate.table.tableName,
    });
    new CfnOutput(this, OBJECT_RECORDS_TABLE_OUTPUT, {
      description: 'One record per object version: its status, executions, times and result (npm run status)',
      value: this.objectRecords.table.tableName,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'UploadCommand', {
      description: 'Upload a file to start the pipeline',
      value: `aws s3 cp ./my-file.csv s3://${bucketName}/${config.inputPrefix}my-file.csv`,
    });
  }

  /** What the event-driven and the backfill workflows share: one per-object step. */
  private workflowStepProps(config: PipelineConfig, outputBucket: s3.IBucket): ProcessObjectStepProps {
    return {
      cluster: this.worker.cluster,
      taskDefinition: this.worker.taskDefinition,
      container: this.worker.container,
      subnets: this.network.taskSubnets,
      securityGroup: this.network.taskSecurityGroup,
      assignPublicIp: this.network.assignPublicIp,
      taskTimeout: Duration.minutes(config.taskTimeoutMinutes),
      outputBucket,
      outputPrefix: config.outputPrefix,
      capacityWait: Duration.minutes(config.capacityWaitMinutes),
      capacity: config.capacity,
      launchGate: this.launchGate,
      records: this.objectRecords,
    };
  }
}
