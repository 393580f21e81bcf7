import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

export interface PipelineTableProps {
  /** The partition key's attribute name (a string). */
  readonly partitionKey: string;
  /** The sort key's attribute name (a string). */
  readonly sortKey: string;
  /** What `cdk destroy` does with the table. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Encrypts the table.
   * @default - DynamoDB's AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The attribute DynamoDB's TTL deletes items by.
   * @default - no TTL
   */
  readonly timeToLiveAttribute?: string;
}

/**
 * A table the pipeline keeps its state in (the object records, the launch gate), all built alike:
 * on-demand, since the writes come in bursts of uploads and a provisioned table would throttle
 * them or sit idle; point-in-time recovery on (cdk-nag's AwsSolutions-DDB3); and the stack's key,
 * when it has one, for encryption at rest (Control Tower's CT.DYNAMODB.PR.2).
 */
export class PipelineTable extends dynamodb.Table {
  constructor(scope: Construct, id: string, props: PipelineTableProps) {
    super(scope, id, {
      partitionKey: { name: props.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: props.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: props.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey && {
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.encryptionKey,
      }),
      removalPolicy: props.removalPolicy,
    });
  }
}
