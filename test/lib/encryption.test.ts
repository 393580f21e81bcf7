import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';

import { Encryption, queueEncryption } from '../../lib/encryption';
import { freshStack, only } from './support/constructs';
import { type Synthesized, synthesized } from './support/synth';
import { logicalIdOf } from './support/template';

function build(mode: 'aws-owned' | 'kms', removalPolicy = RemovalPolicy.RETAIN) {
  // GIVEN the construct alone in a fresh stack, and a role to grant to
  const stack = freshStack();
  const encryption = new Encryption(stack, 'Encryption', { mode, removalPolicy });
  const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
  return { stack, encryption, role };
}

const keyPolicy = (stack: Stack) =>
  only(stack, 'AWS::KMS::Key').Properties.KeyPolicy as { Statement: Record<string, unknown>[] };

describe('Encryption', () => {
  test('aws-owned: no key, and granting or allowing adds nothing', () => {
    const { stack, encryption, role } = build('aws-owned');
    encryption.grantThrough(role, [{ service: 's3', write: true }]);
    encryption.allowEventBridgeDeadLetters();
    expect(encryption.key).toBeUndefined();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test.each([
    [RemovalPolicy.RETAIN, 'Retain'],
    [RemovalPolicy.DESTROY, 'Delete'],
  ])('kms: one key, rotated, removal policy %s', (removalPolicy, cfn) => {
    const { stack } = build('kms', removalPolicy);
    const key = only(stack, 'AWS::KMS::Key');
    expect(key.Properties).toMatchObject({ EnableKeyRotation: true });
    expect([key.DeletionPolicy, key.UpdateReplacePolicy]).toEqual([cfn, cfn]);
  });

  // (the IAM simulator ignores kms:EncryptionContext:aws:logs:arn, so this statement is asserted here)
  test("kms: CloudWatch Logs may use the key for this account's log groups in this region only", () => {
    const { stack } = build('kms');
    expect(stack.resolve(keyPolicy(stack).Statement)).toContainEqual({
      Sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
      Effect: 'Allow',
      Principal: { Service: 'logs.us-east-1.amazonaws.com' },
      Action: [
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
      ],
      Resource: '*',
      Condition: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': 'arn:aws:logs:us-east-1:123456789012:log-group:*',
        },
      },
    });
  });

  test('kms: nobody but an AWS service may create a grant (CT.KMS.PR.3)', () => {
    const { stack } = build('kms');
    expect(keyPolicy(stack).Statement).toContainEqual({
      Sid: 'GrantsOnlyForAwsServices',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    });
  });

  test("kms: EventBridge may put dead letters under the key for this account's rules", () => {
    const { stack, encryption } = build('kms');
    encryption.allowEventBridgeDeadLetters();
    expect(stack.resolve(keyPolicy(stack).Statement)).toContainEqual({
      Sid: 'EventBridgeDeadLettersOfThisAccountsRules',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: '*',
      Condition: {
        StringEquals: { 'aws:SourceAccount': '123456789012' },
        ArnLike: { 'aws:SourceArn': 'arn:aws:events:us-east-1:123456789012:rule/*' },
      },
    });
  });

  test('kms: grantThrough allows each service its actions and denies every other use of the key', () => {
    const { stack, encryption, role } = build('kms');
    encryption.grantThrough(role, [
      { service: 'dynamodb', write: true },
      { service: 's3', write: false },
    ]);
    const key = { 'Fn::GetAtt': [logicalIdOf(stack, encryption.key!), 'Arn'] };
    const via = (service: string) => ({
      StringEquals: { 'kms:ViaService': `${service}.us-east-1.amazonaws.com` },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.exact([
          {
            Sid: 'UseTheKeyThroughDynamoDb',
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
            Resource: key,
            Condition: via('dynamodb'),
          },
          {
            Sid: 'UseTheKeyThroughS3',
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: key,
            Condition: via('s3'),
          },
          {
            Sid: 'UseTheKeyOnlyThroughThoseServices',
            Effect: 'Deny',
            Action: 'kms:*',
            Resource: key,
            Condition: {
              StringNotEquals: {
                'kms:ViaService': ['dynamodb.us-east-1.amazonaws.com', 's3.us-east-1.amazonaws.com'],
              },
            },
          },
        ]),
      },
    });
  });

  test('queueEncryption: SSE-SQS without a key, SSE-KMS under the key with one', () => {
    const { encryption } = build('kms');
    expect(queueEncryption(undefined)).toEqual({ encryption: sqs.QueueEncryption.SQS_MANAGED });
    expect(queueEncryption(encryption.key)).toEqual({
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: encryption.key,
    });
  });
});

describe('PipelineStack and encryption', () => {
  let byDefault: Synthesized;
  let underKey: Synthesized;
  beforeAll(() => {
    // GIVEN the app as configured by default, and with encryption=kms
    byDefault = synthesized('default');
    underKey = synthesized('kms');
  });

  /** What encrypts each resource that holds data, by logical ID. */
  function encryptionOf({ template }: Synthesized): Record<string, unknown> {
    const of = (type: string, read: (properties: Record<string, unknown>) => unknown) =>
      Object.entries(template.findResources(type)).map(([id, r]) => [id, read(r.Properties)]);
    return Object.fromEntries([
      ...of('AWS::Logs::LogGroup', (p) => p.KmsKeyId),
      ...of('AWS::SQS::Queue', (p) => p.KmsMasterKeyId ?? (p.SqsManagedSseEnabled && 'SSE-SQS')),
      ...of('AWS::DynamoDB::Table', (p) => p.SSESpecification),
      ...of('AWS::S3::Bucket', (p) => {
        type Rule = { ServerSideEncryptionByDefault: { KMSMasterKeyID?: unknown; SSEAlgorithm: string } };
        const [rule] = (p.BucketEncryption as { ServerSideEncryptionConfiguration: Rule[] })
          .ServerSideEncryptionConfiguration;
        const { KMSMasterKeyID, SSEAlgorithm } = rule.ServerSideEncryptionByDefault;
        return KMSMasterKeyID ?? SSEAlgorithm;
      }),
    ]);
  }

  test('by default there is no key: SSE-S3, SSE-SQS, and the services own keys for the table and logs', () => {
    byDefault.template.resourceCountIs('AWS::KMS::Key', 0);
    const { ids } = byDefault;
    expect(encryptionOf(byDefault)).toEqual({
      [ids.workerLogGroup]: undefined,
      [ids.workflowLogGroup]: undefined,
      [ids.backfillLogGroup]: undefined,
      [Object.keys(byDefault.template.findResources('AWS::Logs::LogGroup')).find((id) =>
        id.startsWith('NetworkFlowLogs'),
      )!]: undefined,
      [ids.deadLetterQueue]: 'SSE-SQS',
      [ids.launchGateTable]: undefined,
      [ids.dataBucket]: 'AES256',
      [ids.accessLogBucket]: 'AES256',
    });
  });

  test('encryption=kms puts the data bucket, every log group, the dead-letter queue and the table under the one key', () => {
    underKey.template.resourceCountIs('AWS::KMS::Key', 1);
    const key = { 'Fn::GetAtt': [underKey.ids.encryptionKey, 'Arn'] };
    const encryption = encryptionOf(underKey);
    const { ids } = underKey;
    expect(encryption).toEqual(
      Object.fromEntries(
        Object.keys(encryption).map((id) => [
          id,
          id === ids.accessLogBucket
            ? 'AES256' // (see control-tower-acknowledgements.ts: log delivery would need the key)
            : id === ids.launchGateTable || id.startsWith('ObjectRecords')
              ? { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: key }
              : key,
        ]),
      ),
    );
    // 8 log groups, the dead-letter queue, the gate's and the records' tables, the two buckets
    expect(Object.keys(encryption)).toHaveLength(13);
  });
});
