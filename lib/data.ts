import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

import { acknowledgeOnStackSingleton } from './nag-acknowledgements';

/** A version that is no longer current is kept this long: time to notice a bad overwrite. */
const NONCURRENT_VERSION_EXPIRATION = Duration.days(30);
/** Server access logs are kept a year, long enough for an audit of who read what. */
const ACCESS_LOG_RETENTION = Duration.days(365);

export interface DataProps {
  /** What `cdk destroy` does with the buckets; DESTROY also empties them first. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Customer managed KMS keys that uploads may name for SSE-KMS (the reader must be granted
   * kms:Decrypt on them); the bucket policy refuses an upload under any other customer key.
   * @default [] - no customer managed key: SSE-S3, or SSE-KMS under the AWS managed key `aws/s3`
   */
  readonly sseKmsKeyArns?: readonly string[];
  /**
   * The data bucket's default encryption: SSE-KMS under this key, with an S3 Bucket Key (S3 asks
   * KMS for a bucket-level key, not one data key per object, which keeps KMS requests and their
   * cost low). Uploads may name it too. The access-log bucket stays on SSE-S3 (see
   * control-tower-acknowledgements.ts).
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The bucket that objects are uploaded to (and, by default, results are written to),
 * with a separate bucket for its server access logs. Both block public access, refuse
 * plain HTTP and encrypt at rest; the data bucket is versioned and sends its events to
 * EventBridge.
 */
export class Data extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { removalPolicy } = props;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // CT.S3.PR.11: a log deleted or overwritten can be recovered while its version is kept.
      versioned: true,
      lifecycleRules: [
        { expiration: ACCESS_LOG_RETENTION, noncurrentVersionExpiration: NONCURRENT_VERSION_EXPIRATION },
      ],
      removalPolicy,
      autoDeleteObjects,
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      ...(props.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: [
        {
          noncurrentVersionExpiration: NONCURRENT_VERSION_EXPIRATION,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
      autoDeleteObjects,
    });
    refuseUploadsUnderOtherCustomerKeys(this.bucket, [
      ...(props.sseKmsKeyArns ?? []),
      ...(props.encryptionKey ? [props.encryptionKey.keyArn] : []),
    ]);
    acknowledgeOnStackSingleton(
      this,
      'BucketNotificationsHandler',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "aws-cdk-lib's handler that turns on EventBridge notifications runs once at deploy time and only needs to write its own logs.",
    );
  }
}

/**
 * An object encrypted (SSE-KMS, or dual-layer DSSE-KMS) under a customer managed key can be read
 * only by a principal the key lets decrypt, so the task role could not read it and the object would
 * fail on every run. The bucket refuses such an upload at once, unless the key is one of `allowed`.
 * An upload that names no key uses the AWS managed key `aws/s3`, which every principal of the
 * account allowed to read the object may decrypt through S3.
 */
function refuseUploadsUnderOtherCustomerKeys(bucket: s3.Bucket, allowed: readonly string[]): void {
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyUploadsUnderOtherCustomerKeys',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('*')],
      conditions: {
        StringEquals: { 's3:x-amz-server-side-encryption': ['aws:kms', 'aws:kms:dsse'] },
        Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
        ...(allowed.length > 0 && {
          StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': [...allowed] },
        }),
      },
    }),
  );
}
