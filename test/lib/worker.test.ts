import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';

import { Worker, WorkerProps } from '../../lib/worker';
import { freshStack, only, workerProps } from './support/constructs';
import { iamPatternMatches, roleIdFromArn, Statement, statementsOfRole } from './support/iam';
import { Synthesized, synthesized } from './support/synth';
import { onlyResource } from './support/template';

let byDefault: Synthesized;
let sized: Synthesized;
let otherOutput: Synthesized;
let dataBucketArn: string;

beforeAll(() => {
  // GIVEN the default configuration, a bigger x86 task, and results written to another bucket
  byDefault = synthesized('default');
  sized = synthesized('sized');
  otherOutput = synthesized('outputBucket');
  dataBucketArn = `<${byDefault.ids.dataBucket}.Arn>`;
});

function taskDefinition(synth: Synthesized) {
  return onlyResource(synth.template, 'AWS::ECS::TaskDefinition').resource.Properties;
}

function taskRoleStatements(synth: Synthesized): Statement[] {
  return statementsOfRole(synth.template, roleIdFromArn(taskDefinition(synth).TaskRoleArn));
}

describe('Worker: cluster', () => {
  test('has Container Insights enabled and the Fargate capacity providers', () => {
    byDefault.template.resourceCountIs('AWS::ECS::Cluster', 1);
    byDefault.template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    byDefault.template.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: Match.arrayEquals(['FARGATE', 'FARGATE_SPOT']),
    });
  });
});

describe('Worker: task definition', () => {
  test('is a Fargate task of 256 CPU units and 512 MiB on ARM64 Linux', () => {
    byDefault.template.resourceCountIs('AWS::ECS::TaskDefinition', 1);
    byDefault.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '256',
      Memory: '512',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
    });
  });

  test('cpu, memoryMiB and architecture from the config flow through', () => {
    sized.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '3072',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
  });

  // CT.ECS.PR.7: the container has a hard limit, and it is the whole task's memory
  test('the container may use the whole task memory, as a hard limit: 512 MiB by default, 3072 sized', () => {
    expect(taskDefinition(byDefault).ContainerDefinitions).toEqual([
      expect.objectContaining({ Memory: 512 }),
    ]);
    expect(taskDefinition(sized).ContainerDefinitions).toEqual([expect.objectContaining({ Memory: 3072 })]);
  });

  test('has one essential container named "worker"', () => {
    expect(taskDefinition(byDefault).ContainerDefinitions).toEqual([
      expect.objectContaining({ Name: 'worker', Essential: true }),
    ]);
  });

  test('the container runs as a non-root user, unprivileged, on a read-only root filesystem', () => {
    byDefault.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          User: Match.stringLikeRegexp('^[1-9][0-9]*(:[1-9][0-9]*)?$'),
          ReadonlyRootFilesystem: true,
          Privileged: false,
        }),
      ],
    });
    const [container] = taskDefinition(byDefault).ContainerDefinitions as { User: string }[];
    expect(container.User).not.toMatch(/^(root|0)(:|$)/);
  });

  test('has a writable scratch volume mounted at /tmp', () => {
    byDefault.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Volumes: [{ Name: 'scratch' }],
      ContainerDefinitions: [
        Match.objectLike({
          MountPoints: [{ SourceVolume: 'scratch', ContainerPath: '/tmp', ReadOnly: false }],
        }),
      ],
    });
  });

  test('logs with the awslogs driver to a log group with finite retention', () => {
    const [container] = taskDefinition(byDefault).ContainerDefinitions as {
      LogConfiguration: { LogDriver: string; Options: Record<string, { Ref: string }> };
    }[];
    expect(container.LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: byDefault.ids.workerLogGroup },
        'awslogs-stream-prefix': 'worker',
        'awslogs-region': { Ref: 'AWS::Region' },
      },
    });
    const groupId = container.LogConfiguration.Options['awslogs-group'].Ref;
    expect(byDefault.template.toJSON().Resources[groupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 30 },
    });
    // AND logRetentionDays from the config flows through
    sized.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('tells the worker where results go: OUTPUT_BUCKET is the data bucket, OUTPUT_PREFIX processed/', () => {
    byDefault.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.exact([
            { Name: 'OUTPUT_BUCKET', Value: { Ref: byDefault.ids.dataBucket } },
            { Name: 'OUTPUT_PREFIX', Value: 'processed/' },
          ]),
        }),
      ],
    });
  });

  test('-c outputBucket=x sets OUTPUT_BUCKET to x', () => {
    otherOutput.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([{ Name: 'OUTPUT_BUCKET', Value: 'some-bucket' }]),
        }),
      ],
    });
  });
});

describe('Worker: task role (least privilege)', () => {
  test('has exactly: read under incoming/, list the data bucket, write under processed/', () => {
    const statements = taskRoleStatements(byDefault);
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: [`${dataBucketArn}/incoming/*`],
      }),
      // ListBucket only turns "403 Forbidden" into "404 Not Found" for deleted objects
      expect.objectContaining({ Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [dataBucketArn] }),
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: [`${dataBucketArn}/processed/*`],
      }),
    ]);
    // AND no managed policy widens it
    const roleId = roleIdFromArn(taskDefinition(byDefault).TaskRoleArn);
    expect(byDefault.template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('has no wildcard action (no s3:*, s3:Put*, ...)', () => {
    for (const synth of [byDefault, otherOutput]) {
      const actions = taskRoleStatements(synth).flatMap((s) => s.Action);
      expect(actions.filter((a) => /[*?]/.test(a))).toEqual([]);
    }
  });

  test.each([
    ['the default config', () => byDefault],
    ['an outputBucket', () => otherOutput],
  ])('with %s, cannot write, delete or tag anything under the input prefix', (_name, synth) => {
    // GIVEN an object the pipeline is processing
    const inputObject = `${dataBucketArn}/incoming/some/file.csv`;
    // (the matcher does see a bucket-wide grant, so this test can fail)
    expect(iamPatternMatches(`${dataBucketArn}/*`, inputObject)).toBe(true);
    expect(iamPatternMatches('s3:Put*', 's3:PutObject', true)).toBe(true);
    for (const statement of taskRoleStatements(synth())) {
      if (statement.Effect !== 'Allow') continue;
      const writes = ['s3:PutObject', 's3:DeleteObject', 's3:PutObjectTagging', 's3:RestoreObject'].filter(
        (action) => statement.Action.some((pattern) => iamPatternMatches(pattern, action, true)),
      );
      // THEN no statement that allows a write has a resource covering it
      if (writes.length > 0) {
        expect({
          writes,
          covered: statement.Resource.filter((r) => iamPatternMatches(r, inputObject)),
        }).toEqual({
          writes,
          covered: [],
        });
      }
    }
  });

  test('with an outputBucket, writes go to that bucket only and reads stay on the data bucket', () => {
    expect(taskRoleStatements(otherOutput)).toEqual([
      expect.objectContaining({
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: [`${dataBucketArn}/incoming/*`],
      }),
      expect.objectContaining({ Action: ['s3:ListBucket'], Resource: [dataBucketArn] }),
      expect.objectContaining({
        Action: ['s3:PutObject'],
        Resource: ['arn:aws:s3:::some-bucket/processed/*'],
      }),
    ]);
  });

  test('the execution role may only write to the worker log group', () => {
    const roleId = roleIdFromArn(taskDefinition(byDefault).ExecutionRoleArn);
    const logGroupArn = `<${byDefault.ids.workerLogGroup}.Arn>`;
    expect(statementsOfRole(byDefault.template, roleId)).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [logGroupArn],
      }),
    ]);
  });
});

describe('Worker built alone', () => {
  const build = (props: Partial<WorkerProps> = {}) => {
    // GIVEN the construct alone in a fresh stack, with its own VPC and bucket
    const stack = freshStack();
    new Worker(stack, 'Worker', workerProps(stack, props));
    return stack;
  };

  test('cpu, memoryMiB and architecture size the task; the log group follows logRetention and logRemovalPolicy', () => {
    const stack = build({
      cpu: 1024,
      memoryMiB: 3072,
      architecture: 'X86_64',
      logRetention: logs.RetentionDays.ONE_WEEK,
      logRemovalPolicy: RemovalPolicy.DESTROY,
    });
    expect(only(stack, 'AWS::ECS::TaskDefinition').Properties).toMatchObject({
      Cpu: '1024',
      Memory: '3072',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const group = only(stack, 'AWS::Logs::LogGroup');
    expect(group.Properties.RetentionInDays).toBe(7);
    expect([group.DeletionPolicy, group.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
    expect(group.Properties.KmsKeyId).toBeUndefined();
  });

  test('logEncryptionKey encrypts the log group under that key', () => {
    const stack = freshStack();
    const key = new kms.Key(stack, 'Key');
    new Worker(stack, 'Worker', workerProps(stack, { logEncryptionKey: key }));
    expect(only(stack, 'AWS::Logs::LogGroup').Properties.KmsKeyId).toEqual({
      'Fn::GetAtt': [stack.resolve((key.node.defaultChild as kms.CfnKey).logicalId), 'Arn'],
    });
  });

  test('outputPrefix reaches the container as OUTPUT_PREFIX, and the task role writes only there', () => {
    const stack = build({ outputPrefix: 'results/' });
    const [container] = only(stack, 'AWS::ECS::TaskDefinition').Properties.ContainerDefinitions as {
      Environment: { Name: string; Value: unknown }[];
    }[];
    expect(container.Environment).toContainEqual({ Name: 'OUTPUT_PREFIX', Value: 'results/' });
    const template = Template.fromStack(stack);
    const role = Object.keys(template.findResources('AWS::IAM::Role')).find((id) =>
      id.startsWith('WorkerTaskDefinitionTaskRole'),
    );
    const writes = statementsOfRole(template, role as string).filter((s) =>
      s.Action.includes('s3:PutObject'),
    );
    expect(writes.flatMap((s) => s.Resource)).toEqual([expect.stringMatching(/\/results\/\*$/)]);
  });

  test('results that would land under inputPrefix in the same bucket are refused, naming both prefixes and the fix', () => {
    expect(() => build({ inputPrefix: 'incoming/', outputPrefix: 'incoming/out/' })).toThrow(
      /^Worker: outputPrefix "incoming\/out\/" lies under inputPrefix "incoming\/" in the same bucket: results would re-trigger the pipeline; choose an outputPrefix outside it or another outputBucket$/,
    );
    expect(() => build({ inputPrefix: '', outputPrefix: 'processed/' })).toThrow(
      /would re-trigger the pipeline/,
    );
  });

  test('the same prefixes are accepted when results go to another bucket', () => {
    const stack = freshStack();
    const other = s3.Bucket.fromBucketName(stack, 'Other', 'results-bucket');
    const props = workerProps(stack, { outputBucket: other, outputPrefix: 'incoming/out/' });
    expect(() => new Worker(stack, 'Worker', props)).not.toThrow();
  });

  /** The statements of the task role in `stack`, and those that grant any KMS action. */
  const taskRoleOf = (stack: Stack) => {
    const statements = statementsOfRole(
      Template.fromStack(stack),
      roleIdFromArn(only(stack, 'AWS::ECS::TaskDefinition').Properties.TaskRoleArn),
    );
    return { statements, kms: statements.filter((s) => s.Action.some((a) => /^kms:/i.test(a))) };
  };

  test('decryptKeyArns: the task role may kms:Decrypt with exactly those keys, through S3 in the stack region only', () => {
    const keyArns = [
      'arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111',
      'arn:aws:kms:us-east-1:210987654321:key/22222222-2222-2222-2222-222222222222',
    ];
    const { kms } = taskRoleOf(build({ decryptKeyArns: keyArns }));
    // THEN (the fresh stack is in us-east-1)
    expect(kms).toEqual([
      {
        Sid: 'DecryptInputUnderNamedKeys',
        Effect: 'Allow',
        Action: ['kms:Decrypt'],
        Resource: keyArns,
        Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
      },
    ]);
  });

  test('without decryptKeyArns, or with an empty list, the task role has no KMS permission', () => {
    for (const props of [{}, { decryptKeyArns: [] }]) {
      const { statements, kms } = taskRoleOf(build(props));
      // (its S3 statements are there: the role was found)
      expect(statements.length).toBeGreaterThan(0);
      expect(kms).toEqual([]);
    }
  });
});
