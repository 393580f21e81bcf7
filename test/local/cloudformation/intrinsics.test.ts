import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';

import {
  contextForTemplate,
  type IntrinsicContext,
  IntrinsicResolutionError,
  resolveIntrinsics,
} from '../../../local/cloudformation/intrinsics';
import { matchesEventPattern } from '../../../local/events/event-pattern';
import { applyInputTransformer } from '../../../shared/input-transformer';

const context: IntrinsicContext = {
  refs: { Bucket83908E77: 'local-bucket', EnvParam: 'prod' },
  getAtts: {
    Bucket83908E77: { Arn: 'arn:aws:s3:::local-bucket', 'RegionalDomainName.Suffix': 'x' },
    ClusterEB0386A7: { Arn: 'arn:aws:ecs:us-east-1:000000000000:cluster/local' },
  },
  pseudo: { 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000', 'AWS::Partition': 'aws' },
  conditions: {
    IsProd: { 'Fn::Equals': [{ Ref: 'EnvParam' }, 'prod'] },
    IsDev: { 'Fn::Not': [{ Condition: 'IsProd' }] },
    Always: true,
  },
  mappings: { RegionMap: { 'us-east-1': { Ami: 'ami-123' } } },
};

const resolve = (value: unknown) => resolveIntrinsics(value, context);

describe('resolveIntrinsics', () => {
  it.each<[string, unknown, unknown]>([
    ['Ref to a resource', { Ref: 'Bucket83908E77' }, 'local-bucket'],
    ['Ref to a pseudo parameter', { Ref: 'AWS::Region' }, 'us-east-1'],
    ['Fn::GetAtt, array form', { 'Fn::GetAtt': ['Bucket83908E77', 'Arn'] }, 'arn:aws:s3:::local-bucket'],
    ['Fn::GetAtt, string form', { 'Fn::GetAtt': 'Bucket83908E77.Arn' }, 'arn:aws:s3:::local-bucket'],
    ['Fn::GetAtt, dotted attribute', { 'Fn::GetAtt': 'Bucket83908E77.RegionalDomainName.Suffix' }, 'x'],
    ['Fn::Join', { 'Fn::Join': ['/', ['a', { Ref: 'Bucket83908E77' }, 3]] }, 'a/local-bucket/3'],
    ['Fn::Join of an intrinsic list', { 'Fn::Join': ['-', { 'Fn::Split': [',', 'x,y'] }] }, 'x-y'],
    [
      'Fn::Sub with a pseudo parameter and a GetAtt',
      { 'Fn::Sub': '${AWS::Region}:${Bucket83908E77.Arn}' },
      'us-east-1:arn:aws:s3:::local-bucket',
    ],
    ['Fn::Sub with a Ref', { 'Fn::Sub': 's3://${Bucket83908E77}/x' }, 's3://local-bucket/x'],
    [
      'Fn::Sub with variables',
      { 'Fn::Sub': ['${Name}-${AWS::AccountId}', { Name: { Ref: 'Bucket83908E77' } }] },
      'local-bucket-000000000000',
    ],
    [
      'Fn::Sub literal escape',
      { 'Fn::Sub': '${!Literal} and ${!AWS::Region}' },
      '${Literal} and ${AWS::Region}',
    ],
    ['Fn::Select', { 'Fn::Select': ['1', ['a', 'b', 'c']] }, 'b'],
    [
      'Fn::Select of Fn::Split',
      { 'Fn::Select': [5, { 'Fn::Split': [':', { 'Fn::GetAtt': ['ClusterEB0386A7', 'Arn'] }] }] },
      'cluster/local',
    ],
    ['Fn::If on a template condition', { 'Fn::If': ['IsProd', 'big', 'small'] }, 'big'],
    ['Fn::If on a condition that refers to another', { 'Fn::If': ['IsDev', 'dev', 'not-dev'] }, 'not-dev'],
    [
      'Fn::And / Fn::Or / Condition',
      {
        'Fn::Or': [{ 'Fn::And': [{ Condition: 'IsProd' }, { Condition: 'IsDev' }] }, { Condition: 'Always' }],
      },
      true,
    ],
    ['Fn::Equals', { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] }, false],
    ['Fn::FindInMap', { 'Fn::FindInMap': ['RegionMap', { Ref: 'AWS::Region' }, 'Ami'] }, 'ami-123'],
    [
      'Fn::Base64',
      { 'Fn::Base64': { 'Fn::Sub': 'echo ${AWS::Region}' } },
      Buffer.from('echo us-east-1').toString('base64'),
    ],
  ])('%s', (_name, input, expected) => {
    expect(resolve(input)).toEqual(expected);
  });

  it('resolves intrinsics nested anywhere and leaves other values alone', () => {
    const fragment = {
      Environment: [{ Name: 'BUCKET', Value: { Ref: 'Bucket83908E77' } }],
      Count: 2,
      Enabled: true,
      Nothing: null,
      Tags: ['plain', { 'Fn::Join': ['', ['x', 'y']] }],
    };
    const copy = structuredClone(fragment);
    expect(resolve(fragment)).toEqual({
      Environment: [{ Name: 'BUCKET', Value: 'local-bucket' }],
      Count: 2,
      Enabled: true,
      Nothing: null,
      Tags: ['plain', 'xy'],
    });
    expect(fragment).toEqual(copy);
  });

  it('drops properties and list elements that resolve to AWS::NoValue', () => {
    const fragment = {
      Keep: 'a',
      Drop: { 'Fn::If': ['IsDev', 'dev-only', { Ref: 'AWS::NoValue' }] },
      List: ['a', { 'Fn::If': ['IsDev', 'b', { Ref: 'AWS::NoValue' }] }],
    };
    expect(resolve(fragment)).toEqual({ Keep: 'a', List: ['a'] });
  });

  it('accepts a function for GetAtt values', () => {
    const getAtts = (logicalId: string, attribute: string) => `${logicalId}/${attribute}`;
    expect(resolveIntrinsics({ 'Fn::GetAtt': ['Queue', 'Arn'] }, { ...context, getAtts })).toBe('Queue/Arn');
  });

  describe('errors name the reference, where it is, and the fix', () => {
    it.each<[string, unknown, RegExp]>([
      [
        'an unknown Ref',
        { Environment: [{ Value: { Ref: 'Missing123' } }] },
        /^Ref at Environment\[0\]\.Value: Ref "Missing123" has no local value; add it to the refs\/getAtts/,
      ],
      [
        'an unknown GetAtt',
        { 'Fn::GetAtt': ['Bucket83908E77', 'DomainName'] },
        /Fn::GetAtt Bucket83908E77\.DomainName has no local value/,
      ],
      [
        'an unknown GetAtt in Fn::Sub',
        { 'Fn::Sub': '${Queue.Arn}' },
        /Fn::GetAtt Queue\.Arn has no local value/,
      ],
      [
        'a pseudo parameter without a value',
        { Ref: 'AWS::StackName' },
        /pseudo parameter AWS::StackName has no local value; add it to context\.pseudo/,
      ],
      [
        'Fn::ImportValue',
        { 'Fn::ImportValue': 'SharedVpcId' },
        /Fn::ImportValue "SharedVpcId" reads another stack's export/,
      ],
      ['an unsupported function', { 'Fn::GetAZs': '' }, /Fn::GetAZs is not supported by the local resolver/],
      ['an undefined condition', { 'Fn::If': ['Nope', 1, 2] }, /condition "Nope" is not defined/],
      ['Fn::Select out of range', { 'Fn::Select': [3, ['a']] }, /index 3 is outside the list of 1 values/],
      [
        'an object joined into a string',
        { 'Fn::Join': ['', [{ Ref: 'Obj' }]] },
        /cannot put \{"a":1\} into a string/,
      ],
      ['a malformed Fn::Join', { 'Fn::Join': ['', 'a', 'b'] }, /expected \[delimiter, \[values\.\.\.\]\]/],
    ])('%s', (_name, input, message) => {
      const withObject = { ...context, refs: { ...context.refs, Obj: { a: 1 } } };
      expect(() => resolveIntrinsics(input, withObject)).toThrow(IntrinsicResolutionError);
      expect(() => resolveIntrinsics(input, withObject)).toThrow(message);
    });

    it('uses the caller-supplied hint for missing values', () => {
      const hinted = { ...context, missingValueHint: 'map it in local/resources.ts' };
      expect(() => resolveIntrinsics({ Ref: 'Queue' }, hinted)).toThrow(
        'Ref at Ref: Ref "Queue" has no local value; map it in local/resources.ts',
      );
    });
  });
});

describe('contextForTemplate', () => {
  const template = {
    Parameters: { Stage: { Type: 'String', Default: 'dev' }, NoDefault: { Type: 'String' } },
    Conditions: { IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] } },
    Mappings: { M: { a: { b: 'c' } } },
  };

  it('provides pseudo parameters, parameter defaults, conditions and mappings', () => {
    const built = contextForTemplate(template, {
      region: 'cn-north-1',
      accountId: '000000000000',
      refs: { Bucket: 'b' },
    });
    const value = {
      partition: { Ref: 'AWS::Partition' },
      suffix: { Ref: 'AWS::URLSuffix' },
      stack: { Ref: 'AWS::StackName' },
      stage: { Ref: 'Stage' },
      bucket: { Ref: 'Bucket' },
      dev: { 'Fn::If': ['IsDev', 'yes', 'no'] },
      mapped: { 'Fn::FindInMap': ['M', 'a', 'b'] },
    };
    expect(resolveIntrinsics(value, built)).toEqual({
      partition: 'aws-cn',
      suffix: 'amazonaws.com.cn',
      stack: 'local-stack',
      stage: 'dev',
      bucket: 'b',
      dev: 'yes',
      mapped: 'c',
    });
    expect(() => resolveIntrinsics({ Ref: 'NoDefault' }, built)).toThrow(
      /Ref "NoDefault" has no local value/,
    );
  });

  it('lets caller refs override parameter defaults', () => {
    const built = contextForTemplate(template, {
      region: 'us-east-1',
      accountId: '1',
      refs: { Stage: 'prod' },
    });
    expect(resolveIntrinsics({ 'Fn::If': ['IsDev', 'yes', 'no'] }, built)).toBe('no');
  });
});

describe('resolving a template synthesized by aws-cdk-lib', () => {
  const stack = new Stack(new App(), 'PipelineLike');
  const bucket = new s3.Bucket(stack, 'Bucket');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 1,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
  });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
  const container = taskDefinition.addContainer('worker', {
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox'),
    environment: { BUCKET_NAME: bucket.bucketName, REGION: stack.region },
  });
  const runTask = new tasks.EcsRunTask(stack, 'RunTask', {
    cluster,
    taskDefinition,
    launchTarget: new tasks.EcsFargateLaunchTarget(),
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    assignPublicIp: true,
    containerOverrides: [
      {
        containerDefinition: container,
        environment: [{ name: 'KEY', value: sfn.JsonPath.stringAt('$.key') }],
      },
    ],
  });
  const stateMachine = new sfn.StateMachine(stack, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(runTask),
  });
  new events.Rule(stack, 'ObjectCreated', {
    eventPattern: {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: { bucket: { name: [bucket.bucketName] }, object: { key: [{ prefix: 'incoming/' }] } },
    },
  }).addTarget(
    new targets.SfnStateMachine(stateMachine, {
      input: events.RuleTargetInput.fromObject({ key: events.EventField.fromPath('$.detail.object.key') }),
    }),
  );

  const template = Template.fromStack(stack).toJSON();
  const logicalIdOf = (type: string) =>
    Object.keys(template.Resources).find((id) => template.Resources[id].Type === type)!;
  const propertiesOf = (type: string) => template.Resources[logicalIdOf(type)].Properties;

  // What the local runner does: map the few resources it emulates, by logical ID.
  const bucketId = logicalIdOf('AWS::S3::Bucket');
  const subnetId = logicalIdOf('AWS::EC2::Subnet');
  const local = contextForTemplate(template, {
    region: 'us-east-1',
    accountId: '000000000000',
    refs: {
      [bucketId]: 'local-bucket',
      [subnetId]: 'subnet-local',
      [logicalIdOf('AWS::StepFunctions::StateMachine')]: 'arn:sm',
    },
    getAtts: (logicalId, attribute) => {
      const type = template.Resources[logicalId]?.Type;
      if (type === 'AWS::IAM::Role' && attribute === 'Arn')
        return `arn:aws:iam::000000000000:role/${logicalId}`;
      if (type === 'AWS::ECS::Cluster' && attribute === 'Arn')
        return 'arn:aws:ecs:us-east-1:000000000000:cluster/local';
      if (type === 'AWS::EC2::SecurityGroup' && attribute === 'GroupId') return 'sg-local';
      return undefined;
    },
  });

  it('turns the state machine DefinitionString (an Fn::Join) into ASL that parses', () => {
    const definitionString = propertiesOf('AWS::StepFunctions::StateMachine').DefinitionString;
    expect(definitionString).toHaveProperty(['Fn::Join']);
    const definition = JSON.parse(resolveIntrinsics(definitionString, local) as string);
    expect(definition.States.RunTask).toMatchObject({
      Resource: 'arn:aws:states:::ecs:runTask.sync',
      Parameters: {
        Cluster: 'arn:aws:ecs:us-east-1:000000000000:cluster/local',
        NetworkConfiguration: {
          AwsvpcConfiguration: { Subnets: ['subnet-local'], SecurityGroups: ['sg-local'] },
        },
        Overrides: {
          ContainerOverrides: [{ Name: 'worker', Environment: [{ Name: 'KEY', 'Value.$': '$.key' }] }],
        },
      },
    });
  });

  it("resolves the container's Environment values", () => {
    const [containerDefinition] = propertiesOf('AWS::ECS::TaskDefinition').ContainerDefinitions;
    expect(resolveIntrinsics(containerDefinition.Environment, local)).toEqual([
      { Name: 'BUCKET_NAME', Value: 'local-bucket' },
      { Name: 'REGION', Value: 'us-east-1' },
    ]);
  });

  it('resolves the rule so its pattern and input transformer run against a local event', () => {
    const rule = resolveIntrinsics(propertiesOf('AWS::Events::Rule'), local) as {
      EventPattern: unknown;
      Targets: {
        Arn: string;
        InputTransformer: { InputTemplate: string; InputPathsMap: Record<string, string> };
      }[];
    };
    const event = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: 'local-bucket' }, object: { key: 'incoming/a.csv' } },
    };
    expect(matchesEventPattern(rule.EventPattern, event)).toBe(true);
    expect(
      matchesEventPattern(rule.EventPattern, {
        ...event,
        detail: { ...event.detail, bucket: { name: 'x' } },
      }),
    ).toBe(false);
    expect(rule.Targets[0].Arn).toBe('arn:sm');
    expect(applyInputTransformer(rule.Targets[0].InputTransformer, event)).toEqual({ key: 'incoming/a.csv' });
  });

  it('names the logical ID when the runner has not mapped a referenced resource', () => {
    const unmapped = contextForTemplate(template, { region: 'us-east-1', accountId: '000000000000' });
    expect(() =>
      resolveIntrinsics(propertiesOf('AWS::ECS::TaskDefinition').ContainerDefinitions, unmapped),
    ).toThrow(`Ref "${bucketId}" has no local value`);
  });
});
