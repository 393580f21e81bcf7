import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

import { BackfillWorkflow } from './backfill-workflow';
import { PipelineConfig } from './config';
import { DataBucket } from './data-bucket';
import { EventDeadLetterQueue } from './dead-letter-queue';
import { PipelineMonitoring } from './monitoring';
import { PipelineNetwork } from './network';
import { ProcessObjectStepProps } from './process-object-step';
import { ObjectCreatedRule } from './trigger-rule';
import { WorkerTask } from './worker-task';
import { ProcessObjectWorkflow } from './workflow';

export interface PipelineStackProps extends StackProps {
  readonly config: PipelineConfig;
  /**
   * The worker image; tests inject one so they need no Docker.
   * @default - built from `container/`
   */
  readonly image?: ecs.ContainerImage;
}

/** Assembles the pipeline; each concern lives in its own construct. */
export class PipelineStack extends Stack {
  public readonly data: DataBucket;
  public readonly network: PipelineNetwork;
  public readonly worker: WorkerTask;
  public readonly workflow: ProcessObjectWorkflow;
  public readonly trigger: ObjectCreatedRule;
  public readonly deadLetterQueue: EventDeadLetterQueue;
  public readonly backfill: BackfillWorkflow;
  public readonly monitoring: PipelineMonitoring;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.data = new DataBucket(this, 'Data', { removalPolicy });
    const outputBucket = config.outputBucket
      ? s3.Bucket.fromBucketName(this, 'OutputBucket', config.outputBucket)
      : this.data.bucket;

    this.network = new PipelineNetwork(this, 'Network', {
      mode: config.network,
      existingVpc: config.existingVpc,
      logRetention,
    });

    this.worker = new WorkerTask(this, 'Worker', {
      vpc: this.network.vpc,
      inputBucket: this.data.bucket,
      inputPrefix: config.inputPrefix,
      outputBucket,
      outputPrefix: config.outputPrefix,
      cpu: config.cpu,
      memoryMiB: config.memoryMiB,
      architecture: config.architecture,
      logRetention,
      logRemovalPolicy: removalPolicy,
      image: props.image,
    });

    this.workflow = new ProcessObjectWorkflow(this, 'Workflow', {
      ...this.workflowStepProps(config, outputBucket),
      logRetention,
      logRemovalPolicy: removalPolicy,
    });

    this.deadLetterQueue = new EventDeadLetterQueue(this, 'DeadLetters', { removalPolicy });
    this.trigger = new ObjectCreatedRule(this, 'Trigger', {
      bucket: this.data.bucket,
      inputPrefix: config.inputPrefix,
      stateMachine: this.workflow.stateMachine,
      deadLetterQueue: this.deadLetterQueue.queue,
    });

    this.backfill = new BackfillWorkflow(this, 'Backfill', {
      ...this.workflowStepProps(config, outputBucket),
      bucket: this.data.bucket,
      maxConcurrency: config.backfillConcurrency,
      logRetention,
      logRemovalPolicy: removalPolicy,
    });

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      stateMachine: this.workflow.stateMachine,
      deadLetterQueue: this.deadLetterQueue.queue,
      rule: this.trigger.rule,
      alarmEmail: config.alarmEmail,
    });

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
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queue.queueUrl });
    new CfnOutput(this, 'BackfillStateMachineArn', { value: this.backfill.stateMachine.stateMachineArn });
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
      capacity: config.capacity,
    };
  }
}
