import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import { queueEncryption } from './encryption';

export interface DeadLettersProps {
  /** What `cdk destroy` does with the queue and the events still in it. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Encrypts the queue; EventBridge must be let use it (`Encryption.allowEventBridgeDeadLetters`).
   * @default - SSE-SQS
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Holds the events that EventBridge could not turn into an execution (after its
 * retries), for 14 days (SQS's maximum), so `npm run replay-dead-letters` can replay them.
 */
export class DeadLetters extends Construct {
  public readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: DeadLettersProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      ...queueEncryption(props.encryptionKey),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the EventBridge rule target; nothing consumes it but the replay command.',
    });
  }
}
