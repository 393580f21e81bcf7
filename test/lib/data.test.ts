import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';

import { Data } from '../../lib/data';
import { freshStack } from './support/constructs';
import { Synthesized, synthesized } from './support/synth';
import { logicalIdOf } from './support/template';

const BLOCK_ALL_PUBLIC_ACCESS = {
  BlockPublicAcls: true,
  BlockPublicPolicy: true,
  IgnorePublicAcls: true,
  RestrictPublicBuckets: true,
};
const S3_MANAGED_ENCRYPTION = {
  ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
};

let byDefault: Synthesized;
let destroy: Synthesized;
let dataBucketId: string;
let accessLogBucketId: string;

beforeAll(() => {
  // GIVEN the default configuration, and one with removalPolicy=destroy
  byDefault = synthesized('default');
  destroy = synthesized('destroy');
  ({ dataBucket: dataBucketId, accessLogBucket: accessLogBucketId } = byDefault.ids);
  // (logical IDs do not depend on the configuration)
  expect(destroy.ids).toEqual(byDefault.ids);
});

function bucket(template: Template, id: string) {
  return template.toJSON().Resources[id];
}

describe('Data', () => {
  test('there are exactly two buckets: the data bucket and its access log bucket', () => {
    byDefault.template.resourceCountIs('AWS::S3::Bucket', 2);
    expect(dataBucketId).not.toEqual(accessLogBucketId);
  });

  test.each([
    ['data', () => dataBucketId],
    ['access log', () => accessLogBucketId],
  ])('the %s bucket blocks all public access and is encrypted with S3-managed keys', (_name, id) => {
    expect(bucket(byDefault.template, id()).Properties).toMatchObject({
      PublicAccessBlockConfiguration: BLOCK_ALL_PUBLIC_ACCESS,
      BucketEncryption: S3_MANAGED_ENCRYPTION,
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  test.each([
    ['data', () => dataBucketId],
    ['access log', () => accessLogBucketId],
  ])('the %s bucket policy denies every request that is not over TLS', (_name, id) => {
    byDefault.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [
              { 'Fn::GetAtt': [id(), 'Arn'] },
              { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id(), 'Arn'] }, '/*']] },
            ],
          },
        ]),
      },
    });
  });

  test('the data bucket is versioned', () => {
    expect(bucket(byDefault.template, dataBucketId).Properties.VersioningConfiguration).toEqual({
      Status: 'Enabled',
    });
  });

  test('the data bucket sends its events to EventBridge', () => {
    byDefault.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: dataBucketId },
      NotificationConfiguration: Match.exact({ EventBridgeConfiguration: {} }),
    });
  });

  test('the data bucket logs server access to the separate log bucket', () => {
    expect(bucket(byDefault.template, dataBucketId).Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: accessLogBucketId },
      LogFilePrefix: 'data-bucket/',
    });
    // AND the log bucket lets the S3 logging service write there, for this bucket only
    byDefault.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: accessLogBucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [dataBucketId, 'Arn'] } },
            }),
          }),
        ]),
      },
    });
  });

  test('the access log bucket does not log to itself', () => {
    expect(bucket(byDefault.template, accessLogBucketId).Properties.LoggingConfiguration).toBeUndefined();
  });

  test('a lifecycle rule expires noncurrent versions of data objects', () => {
    expect(bucket(byDefault.template, dataBucketId).Properties.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
    );
  });

  test('access logs expire after a year; one deleted or overwritten is kept 30 days (the bucket is versioned)', () => {
    const { Properties } = bucket(byDefault.template, accessLogBucketId);
    expect(Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(Properties.LifecycleConfiguration).toEqual({
      Rules: [
        expect.objectContaining({
          Status: 'Enabled',
          ExpirationInDays: 365,
          NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        }),
      ],
    });
  });

  describe('removal policy', () => {
    test('by default both buckets are retained on delete and on replacement', () => {
      for (const id of [dataBucketId, accessLogBucketId]) {
        expect(bucket(byDefault.template, id)).toMatchObject({
          DeletionPolicy: 'Retain',
          UpdateReplacePolicy: 'Retain',
        });
      }
    });

    test('by default no custom resource empties the buckets', () => {
      byDefault.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    });

    test('with removalPolicy=destroy both buckets are deleted and emptied first', () => {
      for (const id of [dataBucketId, accessLogBucketId]) {
        expect(bucket(destroy.template, id)).toMatchObject({
          DeletionPolicy: 'Delete',
          UpdateReplacePolicy: 'Delete',
        });
        destroy.template.hasResource('Custom::S3AutoDeleteObjects', {
          Properties: { BucketName: { Ref: id } },
        });
      }
      destroy.template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    });
  });
});

describe('Data built alone', () => {
  test.each([
    [RemovalPolicy.RETAIN, 'Retain', 0],
    [RemovalPolicy.DESTROY, 'Delete', 2],
  ])(
    'removalPolicy %s: both buckets %s, emptied first by %i handlers',
    (removalPolicy, cfnPolicy, autoDeletes) => {
      // GIVEN the construct alone in a fresh stack
      const stack = freshStack();
      new Data(stack, 'Data', { removalPolicy });
      const template = Template.fromStack(stack);
      // THEN
      const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
      expect(buckets).toHaveLength(2);
      for (const bucket of buckets) {
        expect([bucket.DeletionPolicy, bucket.UpdateReplacePolicy]).toEqual([cfnPolicy, cfnPolicy]);
      }
      template.resourceCountIs('Custom::S3AutoDeleteObjects', autoDeletes);
    },
  );

  test('the data bucket is versioned, sends events to EventBridge and logs its access to the other', () => {
    const stack = freshStack();
    const data = new Data(stack, 'Data', { removalPolicy: RemovalPolicy.RETAIN });
    const template = Template.fromStack(stack);
    const bucketId = logicalIdOf(stack, data.bucket);
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: Match.exact({ EventBridgeConfiguration: {} }),
    });
    expect(template.toJSON().Resources[bucketId].Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: logicalIdOf(stack, data.accessLogBucket) },
        LogFilePrefix: 'data-bucket/',
      },
    });
  });

  test.each([
    [[], undefined],
    [['arn:aws:kms:us-east-1:123456789012:key/k1'], ['arn:aws:kms:us-east-1:123456789012:key/k1']],
  ])('sseKmsKeyArns %j: uploads under any other customer managed key are refused', (allowed, notEquals) => {
    const stack = freshStack();
    new Data(stack, 'Data', { removalPolicy: RemovalPolicy.RETAIN, sseKmsKeyArns: allowed });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyUploadsUnderOtherCustomerKeys',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: Match.anyValue(),
            Condition: {
              StringEquals: { 's3:x-amz-server-side-encryption': ['aws:kms', 'aws:kms:dsse'] },
              Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
              ...(notEquals && {
                StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': notEquals },
              }),
            },
          },
        ]),
      },
    });
  });

  test('encryptionKey: SSE-KMS under it with an S3 Bucket Key, uploads may name it; the access logs stay SSE-S3', () => {
    const stack = freshStack();
    const key = new kms.Key(stack, 'Key');
    const data = new Data(stack, 'Data', { removalPolicy: RemovalPolicy.RETAIN, encryptionKey: key });
    const template = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [logicalIdOf(stack, key), 'Arn'] };
    expect(template.toJSON().Resources[logicalIdOf(stack, data.bucket)].Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
        },
      ],
    });
    expect(
      template.toJSON().Resources[logicalIdOf(stack, data.accessLogBucket)].Properties.BucketEncryption,
    ).toEqual(S3_MANAGED_ENCRYPTION);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'DenyUploadsUnderOtherCustomerKeys',
            Condition: Match.objectLike({
              StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': [keyArn] },
            }),
          }),
        ]),
      },
    });
  });
});
