import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';

import { Network, NetworkProps } from '../../lib/network';
import { AslDefinition, backfillMapOf, definitionOf, statesOfType } from './support/asl';
import { freshStack, only } from './support/constructs';
import { ConfigurationName, CONFIGURATIONS, Synthesized, synthesized } from './support/synth';
import { evaluate, onlyResource } from './support/template';

const EXISTING = CONFIGURATIONS.existingVpc;

let publicNet: Synthesized;
let privateNet: Synthesized;
let existing: Synthesized;
let taskSecurityGroupId: string;

beforeAll(() => {
  // GIVEN the default (public) network, a private one, and an existing VPC
  publicNet = synthesized('default');
  privateNet = synthesized('private');
  existing = synthesized('existingVpc');
  taskSecurityGroupId = publicNet.ids.taskSecurityGroup;
});

/** The AwsvpcConfiguration of every RunTask state of the workflow and of the backfill's item processor. */
function awsvpcConfigurations(synth: Synthesized) {
  const [, map] = backfillMapOf(synth);
  const runTasks = (definition: AslDefinition) =>
    Object.values(statesOfType(definition, 'Task')).filter((task) =>
      String(task.Resource).endsWith(':ecs:runTask.sync'),
    );
  const workflowTasks = runTasks(definitionOf(synth));
  const backfillTasks = runTasks(map.ItemProcessor);
  expect(workflowTasks.length).toBeGreaterThan(0);
  expect(backfillTasks).toHaveLength(workflowTasks.length);
  const tasks = [...workflowTasks, ...backfillTasks];
  return tasks.map(
    (task) =>
      (task.Parameters as { NetworkConfiguration: { AwsvpcConfiguration: Record<string, unknown> } })
        .NetworkConfiguration.AwsvpcConfiguration,
  );
}

describe('Network (public, the default)', () => {
  test('creates one VPC with exactly two public subnets in two different AZs', () => {
    publicNet.template.resourceCountIs('AWS::EC2::VPC', 1);
    publicNet.template.resourceCountIs('AWS::EC2::Subnet', 2);
    const subnets = Object.values(
      publicNet.template.findResources('AWS::EC2::Subnet', {
        Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Public' }]) },
      }),
    );
    expect(subnets).toHaveLength(2);
    const azs = subnets.map((s) => JSON.stringify(s.Properties.AvailabilityZone));
    expect(new Set(azs).size).toBe(2);
    publicNet.template.resourceCountIs('AWS::EC2::InternetGateway', 1);
  });

  test('has no NAT gateway', () => {
    publicNet.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    publicNet.template.resourceCountIs('AWS::EC2::EIP', 0);
  });

  test('has no interface endpoint, only an S3 gateway endpoint on the public route tables', () => {
    publicNet.template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface' },
      0,
    );
    publicNet.template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    publicNet.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PublicSubnet1RouteTable') }]),
    });
  });

  test('logs all VPC traffic to a log group with finite retention', () => {
    publicNet.template.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    const { resource } = onlyResource(publicNet.template, 'AWS::EC2::FlowLog');
    const groupId = (resource.Properties.LogGroupName as { Ref: string }).Ref;
    expect(publicNet.template.toJSON().Resources[groupId].Properties.RetentionInDays).toBe(30);
  });

  test('the task security group allows no ingress and only TCP 443 egress', () => {
    publicNet.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Worker tasks'),
      SecurityGroupIngress: Match.absent(),
      SecurityGroupEgress: Match.exact([
        {
          CidrIp: '0.0.0.0/0',
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          Description: 'HTTPS to AWS APIs',
        },
      ]),
    });
    const group = publicNet.template.toJSON().Resources[taskSecurityGroupId];
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    // AND no separate ingress or egress rule resource opens it further
    publicNet.template.resourcePropertiesCountIs(
      'AWS::EC2::SecurityGroupIngress',
      { GroupId: { 'Fn::GetAtt': [taskSecurityGroupId, 'GroupId'] } },
      0,
    );
    publicNet.template.resourcePropertiesCountIs(
      'AWS::EC2::SecurityGroupEgress',
      { GroupId: { 'Fn::GetAtt': [taskSecurityGroupId, 'GroupId'] } },
      0,
    );
  });

  // CT.EC2.PR.11: an instance or ENI launched there without asking gets no public IP
  test('the public subnets assign no public IP on launch', () => {
    publicNet.template.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false }, 2);
  });

  // the only way the tasks get the public IP they pull images with (no NAT)
  test('tasks run in the public subnets with a public IP and the task security group', () => {
    for (const config of awsvpcConfigurations(publicNet)) {
      expect(config).toEqual({
        AssignPublicIp: 'ENABLED',
        Subnets: [
          expect.stringMatching(/^<NetworkVpcPublicSubnet1Subnet\w+>$/),
          expect.stringMatching(/^<NetworkVpcPublicSubnet2Subnet\w+>$/),
        ],
        SecurityGroups: [`<${taskSecurityGroupId}.GroupId>`],
      });
    }
  });
});

describe('Network (private)', () => {
  test('has isolated subnets only: no internet gateway, no NAT, no public IPs', () => {
    privateNet.template.resourceCountIs('AWS::EC2::Subnet', 2);
    privateNet.template.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false }, 2);
    privateNet.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    privateNet.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    for (const config of awsvpcConfigurations(privateNet)) {
      // (RunTask's default, when the field is absent, is DISABLED)
      expect([undefined, 'DISABLED']).toContain(config.AssignPublicIp);
      expect(config.Subnets).toEqual([
        expect.stringMatching(/^<NetworkVpcIsolatedSubnet1Subnet\w+>$/),
        expect.stringMatching(/^<NetworkVpcIsolatedSubnet2Subnet\w+>$/),
      ]);
    }
  });

  test('reaches ECR, ECR Docker and CloudWatch Logs through private interface endpoints', () => {
    privateNet.template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface' },
      3,
    );
    for (const service of ['ecr.api', 'ecr.dkr', 'logs']) {
      privateNet.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
      });
    }
    privateNet.template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 1);
  });

  test('the endpoints accept HTTPS from the task security group only', () => {
    privateNet.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('^Interface endpoints'),
      SecurityGroupIngress: Match.absent(),
    });
    privateNet.template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
    privateNet.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [taskSecurityGroupId, 'GroupId'] },
    });
  });
});

describe('Network (private): endpoint wiring', () => {
  let endpointSecurityGroupId: string;
  beforeAll(() => {
    const groups = Object.keys(
      privateNet.template.findResources('AWS::EC2::SecurityGroup', {
        Properties: { GroupDescription: Match.stringLikeRegexp('^Interface endpoints') },
      }),
    );
    expect(groups).toHaveLength(1);
    [endpointSecurityGroupId] = groups;
  });

  test('the 443 ingress from the tasks is on the endpoint security group, which every interface endpoint uses', () => {
    privateNet.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [endpointSecurityGroupId, 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [taskSecurityGroupId, 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
    });
    const interfaces = Object.values(
      privateNet.template.findResources('AWS::EC2::VPCEndpoint', {
        Properties: { VpcEndpointType: 'Interface' },
      }),
    );
    expect(interfaces).toHaveLength(3);
    for (const endpoint of interfaces) {
      expect(endpoint.Properties.SecurityGroupIds).toEqual([
        { 'Fn::GetAtt': [endpointSecurityGroupId, 'GroupId'] },
      ]);
    }
  });

  test('the interface endpoints sit in the isolated subnets the tasks run in', () => {
    const [taskSubnets] = awsvpcConfigurations(privateNet).map((c) => c.Subnets);
    const interfaces = Object.values(
      privateNet.template.findResources('AWS::EC2::VPCEndpoint', {
        Properties: { VpcEndpointType: 'Interface' },
      }),
    );
    for (const endpoint of interfaces) {
      expect(evaluate(privateNet.template, endpoint.Properties.SubnetIds)).toEqual(taskSubnets);
    }
  });

  test("the S3 gateway endpoint serves the isolated subnets' route tables", () => {
    privateNet.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: [
        { Ref: Match.stringLikeRegexp('^NetworkVpcIsolatedSubnet1RouteTable') },
        { Ref: Match.stringLikeRegexp('^NetworkVpcIsolatedSubnet2RouteTable') },
      ],
    });
  });

  test('no subnet maps public IPs and no route leaves the VPC', () => {
    privateNet.template.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: true }, 0);
    privateNet.template.resourceCountIs('AWS::EC2::Route', 0);
    privateNet.template.resourceCountIs('AWS::EC2::VPCGatewayAttachment', 0);
  });
});

describe.each(Object.keys(CONFIGURATIONS) as ConfigurationName[])('Network (%s)', (name) => {
  test('has no NAT gateway, no Elastic IP and no route through a NAT', () => {
    const { template } = synthesized(name);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.resourcePropertiesCountIs('AWS::EC2::Route', { NatGatewayId: Match.anyValue() }, 0);
  });
});

describe('Network (existing VPC)', () => {
  test('creates no VPC, subnets or endpoints, only the task security group in that VPC', () => {
    existing.template.resourceCountIs('AWS::EC2::VPC', 0);
    existing.template.resourceCountIs('AWS::EC2::Subnet', 0);
    existing.template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    existing.template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    existing.template.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: EXISTING.vpcId });
  });

  test('tasks run in exactly the given subnets', () => {
    for (const config of awsvpcConfigurations(existing)) {
      expect(config.Subnets).toEqual(EXISTING.subnetIds.split(','));
      expect(config.AssignPublicIp).toBe('ENABLED');
    }
  });
});

describe('Network built alone', () => {
  const EXISTING_VPC = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] };
  const build = (props: Partial<NetworkProps>) => {
    const stack = freshStack();
    const network = new Network(stack, 'Network', {
      mode: 'public',
      logRetention: logs.RetentionDays.ONE_WEEK,
      logRemovalPolicy: RemovalPolicy.DESTROY,
      ...props,
    });
    return { stack, network, template: Template.fromStack(stack) };
  };

  test('public: public subnets, a public IP for tasks, no interface endpoints', () => {
    const { network, template } = build({ mode: 'public' });
    expect(network.assignPublicIp).toBe(true);
    expect(network.taskSubnets).toEqual({ subnetType: ec2.SubnetType.PUBLIC });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 1); // the S3 gateway only
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  test('private: isolated subnets, no public IP, endpoints for ECR (API and Docker) and CloudWatch Logs', () => {
    const { network, template } = build({ mode: 'private' });
    expect(network.assignPublicIp).toBe(false);
    expect(network.taskSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    expect(
      Object.keys(
        template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
      ),
    ).toHaveLength(3);
  });

  test('the flow log group follows logRetention and logRemovalPolicy', () => {
    const { stack } = build({
      logRetention: logs.RetentionDays.ONE_WEEK,
      logRemovalPolicy: RemovalPolicy.DESTROY,
    });
    const group = only(stack, 'AWS::Logs::LogGroup');
    expect(group.Properties.RetentionInDays).toBe(7);
    expect([group.DeletionPolicy, group.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
    expect(
      only(build({ logRemovalPolicy: RemovalPolicy.RETAIN }).stack, 'AWS::Logs::LogGroup').DeletionPolicy,
    ).toBe('Retain');
  });

  test('existingVpc: no VPC, flow log or endpoint is created; tasks run in the given subnets', () => {
    const { network, template } = build({ existingVpc: EXISTING_VPC });
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expect(network.vpc.vpcId).toBe(EXISTING_VPC.vpcId);
    expect(network.taskSubnets.subnets?.map((s) => s.subnetId)).toEqual(EXISTING_VPC.subnetIds);
  });

  test('existingVpc without subnets is refused, naming the VPC and the fix', () => {
    expect(() => build({ existingVpc: { ...EXISTING_VPC, subnetIds: [] } })).toThrow(
      /^Network: existingVpc vpc-0123456789abcdef0 has no subnetIds: give the ids of the subnets the tasks run in$/,
    );
  });
});
