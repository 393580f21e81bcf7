/**
 * What a construct needs around it when it is built alone in a fresh `Stack`, the way aws-cdk-lib
 * tests one construct (aws-stepfunctions-tasks' run-task tests): plain collaborators, no pipeline.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';

import { LaunchGate } from '../../../lib/launch-gate';
import { ObjectRecords } from '../../../lib/object-records';
import type { ProcessObjectStepProps } from '../../../lib/process-object-step';
import type { WorkerProps } from '../../../lib/worker';
import type { AslDefinition } from './asl';
import { CDK_JSON_CONTEXT, TEST_IMAGE } from './synth';
import { evaluate, logicalIdOf } from './template';

/**
 * A fresh stack in a fixed account and region (so ARNs and AZs resolve), in an app with cdk.json's
 * feature flags: a construct behaves alone as it does in `cdk synth`.
 */
export function freshStack(): Stack {
  const app = new App({ context: CDK_JSON_CONTEXT });
  return new Stack(app, 'Alone', { env: { account: '123456789012', region: 'us-east-1' } });
}

/** Props of the per-object step: a one-AZ public VPC, a cluster and a one-container task definition. */
export function stepProps(
  stack: Stack,
  overrides: Partial<ProcessObjectStepProps> = {},
): ProcessObjectStepProps {
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    natGateways: 0,
    maxAzs: 1,
    subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }],
  });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'TaskDefinition');
  const container = taskDefinition.addContainer('Worker', {
    image: ecs.ContainerImage.fromRegistry(TEST_IMAGE),
  });
  return {
    cluster: new ecs.Cluster(stack, 'Cluster', { vpc, enableFargateCapacityProviders: true }),
    taskDefinition,
    container,
    subnets: { subnetType: ec2.SubnetType.PUBLIC },
    securityGroup: new ec2.SecurityGroup(stack, 'Tasks', { vpc }),
    assignPublicIp: true,
    taskTimeout: Duration.minutes(60),
    outputBucket: s3.Bucket.fromBucketName(stack, 'Results', 'results'),
    outputPrefix: 'processed/',
    capacity: 'on-demand',
    capacityWait: Duration.hours(1),
    launchGate: overrides.launchGate ?? new LaunchGate(stack, 'LaunchGate', { slots: 4 }),
    records:
      overrides.records ??
      new ObjectRecords(stack, 'ObjectRecords', { recordDays: 30, removalPolicy: RemovalPolicy.DESTROY }),
    ...overrides,
  };
}

/** Props of the worker: its own VPC and one bucket for input and results, the default size, a registry image. */
export function workerProps(stack: Stack, overrides: Partial<WorkerProps> = {}): WorkerProps {
  const bucket = new s3.Bucket(stack, 'Bucket');
  return {
    vpc: new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 1 }),
    inputBucket: bucket,
    inputPrefix: 'incoming/',
    outputBucket: bucket,
    outputPrefix: 'processed/',
    cpu: 256,
    memoryMiB: 512,
    architecture: 'ARM64',
    logRetention: logs.RetentionDays.ONE_MONTH,
    logRemovalPolicy: RemovalPolicy.RETAIN,
    image: { kind: 'registry', reference: TEST_IMAGE },
    ...overrides,
  };
}

/** Log props of a state machine: a week, deleted with the stack (both unlike the app's defaults). */
export const LOG_PROPS = {
  logRetention: logs.RetentionDays.ONE_WEEK,
  logRemovalPolicy: RemovalPolicy.DESTROY,
};

/** The one resource of `type` in `stack`, with its DeletionPolicy. */
export function only(
  stack: Stack,
  type: string,
): Record<string, unknown> & { Properties: Record<string, unknown> } {
  const found = Object.values(Template.fromStack(stack).findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as Record<string, unknown> & { Properties: Record<string, unknown> };
}

/** The definition of a state machine built in `stack`, intrinsics evaluated, parsed. */
export function definitionIn(stack: Stack, stateMachine: IConstruct): AslDefinition {
  const template = Template.fromStack(stack);
  const resource = template.toJSON().Resources[logicalIdOf(stack, stateMachine)];
  return JSON.parse(evaluate(template, resource.Properties.DefinitionString) as string) as AslDefinition;
}
