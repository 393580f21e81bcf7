/**
 * The collaborators a construct needs when it is built alone in a fresh `Stack`, the way
 * aws-cdk-lib's own tests build one construct (e.g. aws-stepfunctions-tasks' run-task tests).
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';

import type { ProcessObjectStepProps } from '../../../lib/process-object-step';

/** A VPC, a cluster and a one-container Fargate task definition, as the per-object step uses them. */
export function stepProps(
  stack: Stack,
  overrides: Partial<ProcessObjectStepProps> = {},
): ProcessObjectStepProps {
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 1, restrictDefaultSecurityGroup: false });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, enableFargateCapacityProviders: true });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'TaskDefinition');
  const container = taskDefinition.addContainer('App', {
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine'),
  });
  return {
    cluster,
    taskDefinition,
    container,
    subnets: { subnetType: ec2.SubnetType.PUBLIC },
    securityGroup: new ec2.SecurityGroup(stack, 'SecurityGroup', { vpc }),
    assignPublicIp: true,
    taskTimeout: Duration.minutes(60),
    capacity: 'on-demand',
    capacityWait: Duration.hours(1),
    ...overrides,
  };
}

/** Log props of a state machine: a week, deleted with the stack. */
export const LOG_PROPS = {
  logRetention: logs.RetentionDays.ONE_WEEK,
  logRemovalPolicy: RemovalPolicy.DESTROY,
};
