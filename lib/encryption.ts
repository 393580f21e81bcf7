import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import type { EncryptionMode } from './config';

/** The AWS services that use the key on a caller's behalf, by the name of their endpoint. */
export type KeyUsingService = 's3' | 'dynamodb' | 'sqs';

/** One way a principal uses the key: through `service`, reading only or writing too. */
export interface KeyUse {
  readonly service: KeyUsingService;
  readonly write: boolean;
}

/**
 * What each service asks KMS for on a caller's behalf: S3 decrypts to read and makes a data key
 * to write; DynamoDB decrypts its table key and encrypts a new one; SQS makes a data key to send
 * and decrypts it to receive.
 */
const ACTIONS_FOR: Record<KeyUsingService, { sid: string; read: string[]; write: string[] }> = {
  s3: { sid: 'UseTheKeyThroughS3', read: ['kms:Decrypt'], write: ['kms:GenerateDataKey'] },
  dynamodb: {
    sid: 'UseTheKeyThroughDynamoDb',
    read: ['kms:Decrypt'],
    write: ['kms:Encrypt', 'kms:GenerateDataKey'],
  },
  sqs: { sid: 'UseTheKeyThroughSqs', read: ['kms:Decrypt'], write: ['kms:GenerateDataKey'] },
};

export interface EncryptionProps {
  /** `aws-owned`: no key (each service's own encryption). `kms`: one customer managed key. */
  readonly mode: EncryptionMode;
  /** What `cdk destroy` does with the key; RETAIN keeps retained buckets and logs readable. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The customer managed key of `encryption=kms` (none by default), rotated yearly, and the key
 * policy statements the AWS services that write with it on their own need: CloudWatch Logs (for
 * the log groups) and EventBridge (for the rule's dead-letter queue). Principals of the stack get
 * it through `grantThrough`, only by way of the services they use it through.
 */
export class Encryption extends Construct {
  /** The key, or undefined in the `aws-owned` mode. */
  public readonly key?: kms.Key;

  constructor(scope: Construct, id: string, props: EncryptionProps) {
    super(scope, id);
    if (props.mode !== 'kms') return;
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the data, logs, launch gate and queues of ${stack.stackName}`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    // CloudWatch Logs encrypts each log group's data itself; the context names the log group.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
          'kms:GenerateDataKey',
          'kms:DescribeKey',
        ],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    // CT.KMS.PR.3: only AWS services may hold grants on the key (DynamoDB creates its own).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'GrantsOnlyForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }),
    );
  }

  /**
   * Lets EventBridge put the events a rule of this account could not deliver into a dead-letter
   * queue under the key (it encrypts as the service). Any rule of the account and region, not the
   * one rule: its ARN would close a cycle (key, rule, the bucket its pattern names, key). Nothing
   * in the `aws-owned` mode.
   */
  allowEventBridgeDeadLetters(): void {
    const stack = Stack.of(this);
    this.key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeDeadLettersOfThisAccountsRules',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }),
          },
        },
      }),
    );
  }

  /**
   * Lets `grantee` use the key only by way of the services in `uses`, in this region
   * (`kms:ViaService`): to read what each holds under the key, and to write as well where `write`
   * is set. Every other use of the key is denied, which also scopes what aws-cdk-lib grants on its
   * own (SqsSendMessage grants kms:Decrypt and kms:GenerateDataKey* on the queue's key, unscoped).
   * Once per grantee. Nothing in the `aws-owned` mode.
   */
  grantThrough(grantee: iam.IGrantable, uses: readonly KeyUse[]): void {
    if (!this.key) return;
    const viaService = (service: KeyUsingService) => `${service}.${Stack.of(this).region}.amazonaws.com`;
    for (const { service, write } of uses) {
      const actions = ACTIONS_FOR[service];
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: actions.sid,
          actions: [...actions.read, ...(write ? actions.write : [])],
          resources: [this.key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': viaService(service) } },
        }),
      );
    }
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UseTheKeyOnlyThroughThoseServices',
        effect: iam.Effect.DENY,
        actions: ['kms:*'],
        resources: [this.key.keyArn],
        // (a direct call has no kms:ViaService, which StringNotEquals counts as not equal: denied)
        conditions: { StringNotEquals: { 'kms:ViaService': uses.map(({ service }) => viaService(service)) } },
      }),
    );
  }
}

/** SSE-SQS, or SSE-KMS under `key`: the encryption of every queue of the stack. */
export function queueEncryption(
  key: kms.IKey | undefined,
): Pick<sqs.QueueProps, 'encryption' | 'encryptionMasterKey'> {
  return key
    ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
    : { encryption: sqs.QueueEncryption.SQS_MANAGED };
}
