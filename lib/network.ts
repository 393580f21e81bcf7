import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

import type { NetworkMode } from './config';

export interface NetworkProps {
  /**
   * `public`: public subnets, tasks get a public IP to pull images (no NAT: zero idle cost).
   * `private`: isolated subnets, no public IP; ECR, CloudWatch Logs and S3 are reached
   * through VPC endpoints. With `existingVpc`, only whether tasks get a public IP.
   */
  readonly mode: NetworkMode;
  /**
   * Run in an existing VPC, in these subnets (at least one), instead of creating one. Its
   * routes are the owner's: nothing here adds endpoints or flow logs to it.
   * @default - a new VPC in 2 AZs
   */
  readonly existingVpc?: { readonly vpcId: string; readonly subnetIds: readonly string[] };
  /** Retention of the new VPC's flow log group. */
  readonly logRetention: logs.RetentionDays;
  /** What `cdk destroy` does with the new VPC's flow log group. */
  readonly logRemovalPolicy: RemovalPolicy;
  /**
   * Encrypts the new VPC's flow log group.
   * @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * Where the worker tasks run: a VPC with no NAT gateway, a security group with no
 * ingress and HTTPS-only egress, and an S3 gateway endpoint so S3 traffic (including
 * ECR image layers, which ECR serves from S3) stays off the internet.
 */
export class Network extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly taskSubnets: ec2.SubnetSelection;
  public readonly taskSecurityGroup: ec2.SecurityGroup;
  /** Whether tasks need a public IP (only to reach ECR and CloudWatch Logs without NAT). */
  public readonly assignPublicIp: boolean;
  /** The new VPC's flow log group (none in an existing VPC). */
  public readonly flowLogGroup?: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { mode } = props;
    this.assignPublicIp = mode === 'public';

    if (props.existingVpc) {
      if (props.existingVpc.subnetIds.length === 0) {
        throw new Error(
          `Network: existingVpc ${props.existingVpc.vpcId} has no subnetIds: give the ids of the subnets the tasks run in`,
        );
      }
      const subnets = props.existingVpc.subnetIds.map((subnetId, i) => {
        const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId);
        // Tasks only need the subnet id; nothing here reads its route table.
        Annotations.of(subnet).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'route table unused',
        );
        return subnet;
      });
      this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: props.existingVpc.vpcId,
        availabilityZones: subnets.map((_, i) => `existing-az-${i}`),
      });
      this.taskSubnets = { subnets };
    } else {
      this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        retention: props.logRetention,
        removalPolicy: props.logRemovalPolicy,
        encryptionKey: props.logEncryptionKey,
      });
      const subnetType = mode === 'public' ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_ISOLATED;
      this.vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [
          {
            name: mode === 'public' ? 'Public' : 'Isolated',
            subnetType,
            cidrMask: 24,
            // CT.EC2.PR.11: nothing launched here gets a public IP unless asked for; the worker's
            // RunTask asks for one (assignPublicIp). (Isolated subnets take no such setting.)
            ...(mode === 'public' && { mapPublicIpOnLaunch: false }),
          },
        ],
        gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
        flowLogs: {
          All: {
            destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
            trafficType: ec2.FlowLogTrafficType.ALL,
          },
        },
      });
      this.taskSubnets = { subnetType };
    }

    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: this.vpc,
      description: 'Worker tasks: no ingress; HTTPS egress to S3, ECR and CloudWatch Logs only',
      allowAllOutbound: false,
    });
    this.taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs');

    if (mode === 'private' && !props.existingVpc) {
      // Without NAT or a public IP, Fargate pulls images and ships logs only through
      // these; they accept HTTPS from the tasks and nothing else.
      const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'Interface endpoints: HTTPS from the worker tasks only',
        allowAllOutbound: false,
      });
      endpointSecurityGroup.addIngressRule(
        this.taskSecurityGroup,
        ec2.Port.tcp(443),
        'HTTPS from worker tasks',
      );
      for (const [name, service] of [
        ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
        ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
        ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
      ] as const) {
        this.vpc.addInterfaceEndpoint(name, {
          service,
          privateDnsEnabled: true,
          open: false,
          securityGroups: [endpointSecurityGroup],
        });
      }
    }
  }
}
