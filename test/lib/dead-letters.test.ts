import { RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';

import { DeadLetters } from '../../lib/dead-letters';
import { freshStack, only } from './support/constructs';
import { Synthesized, synthesized } from './support/synth';

let byDefault: Synthesized;
let destroy: Synthesized;
let queueId: string;

beforeAll(() => {
  // GIVEN the default configuration, and one with removalPolicy=destroy
  byDefault = synthesized('default');
  destroy = synthesized('destroy');
  queueId = byDefault.ids.deadLetterQueue;
});

describe('DeadLetters', () => {
  test('is encrypted with SQS-managed keys, keeping messages 14 days; it is the only queue', () => {
    const queues = byDefault.template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues)).toEqual([queueId]);
    expect(queues[queueId].Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  test('denies every request that is not over TLS', () => {
    byDefault.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
          },
        ]),
      },
    });
  });

  test('is retained by default and deleted with removalPolicy=destroy', () => {
    byDefault.template.hasResource('AWS::SQS::Queue', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    destroy.template.hasResource('AWS::SQS::Queue', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });
});

describe('DeadLetters built alone', () => {
  test.each([
    [RemovalPolicy.RETAIN, 'Retain'],
    [RemovalPolicy.DESTROY, 'Delete'],
  ])('removalPolicy %s: the queue is %s with the stack', (removalPolicy, cfnPolicy) => {
    // GIVEN the construct alone in a fresh stack
    const stack = freshStack();
    new DeadLetters(stack, 'DeadLetters', { removalPolicy });
    // THEN one encrypted queue keeps events 14 days (SQS's maximum)
    const queue = only(stack, 'AWS::SQS::Queue');
    expect([queue.DeletionPolicy, queue.UpdateReplacePolicy]).toEqual([cfnPolicy, cfnPolicy]);
    expect(queue.Properties).toMatchObject({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
  });
});
