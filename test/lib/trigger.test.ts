import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

import { Trigger } from '../../lib/trigger';
import { freshStack, only } from './support/constructs';
import { Synthesized, synthesized } from './support/synth';
import { logicalIdOf, type Resource } from './support/template';

let byDefault: Synthesized;
let customPrefix: Synthesized;
let ids: { bucket: string; stateMachine: string; queue: string; rule: string };

beforeAll(() => {
  // GIVEN the default configuration, and one watching "uploads/"
  byDefault = synthesized('default');
  customPrefix = synthesized('uploadsPrefix');
  const { dataBucket, workflowStateMachine, deadLetterQueue, rule } = byDefault.ids;
  ids = { bucket: dataBucket, stateMachine: workflowStateMachine, queue: deadLetterQueue, rule };
});

describe('Trigger', () => {
  test("is the only rule on S3 events (the others are the launch gate cleanup's and the object recorder's), enabled, on the default event bus", () => {
    byDefault.template.resourceCountIs('AWS::Events::Rule', 3);
    byDefault.template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventBusName: Match.absent(),
    });
  });

  test('matches exactly S3 "Object Created" events of the data bucket under the input prefix', () => {
    byDefault.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.exact({
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: ids.bucket }] },
          object: { key: [{ prefix: 'incoming/' }] },
        },
      }),
    });
  });

  test('a custom inputPrefix flows into the pattern', () => {
    customPrefix.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { object: { key: [{ prefix: 'uploads/' }] } } },
      Description: Match.stringLikeRegexp('"uploads/"'),
    });
  });

  test('has exactly one target: the state machine, started through its events role', () => {
    const resource = byDefault.template.toJSON().Resources[ids.rule] as Resource;
    expect(resource.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { Ref: ids.stateMachine },
        RoleArn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
      }),
    ]);
    // AND that role may only start executions of this state machine
    byDefault.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: ids.stateMachine } },
        ],
      },
    });
  });

  test('passes bucket, key, etag, size and versionId, the key exactly as EventBridge delivers it', () => {
    // THEN the input transformer reads the raw `$.detail.object.key` (EventBridge does not
    // URL-encode it) and the template inserts it as is: nothing decodes or re-encodes it
    byDefault.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Input: Match.absent(),
          InputPath: Match.absent(),
          InputTransformer: Match.exact({
            InputPathsMap: {
              'detail-bucket-name': '$.detail.bucket.name',
              'detail-object-key': '$.detail.object.key',
              'detail-object-etag': '$.detail.object.etag',
              'detail-object-size': '$.detail.object.size',
              'detail-object-version-id': '$.detail.object.version-id',
            },
            InputTemplate:
              '{"bucket":<detail-bucket-name>,"key":<detail-object-key>,"etag":<detail-object-etag>,' +
              '"size":<detail-object-size>,"versionId":<detail-object-version-id>}',
          }),
        }),
      ],
    });
  });

  test('retries delivery for 24 hours, up to 185 times, then dead-letters the event', () => {
    byDefault.template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          RetryPolicy: Match.exact({ MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 }),
          DeadLetterConfig: Match.exact({ Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] } }),
        }),
      ],
    });
  });

  test('the dead-letter queue accepts messages from this rule only', () => {
    byDefault.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ids.queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ids.rule, 'Arn'] } } },
            Resource: { 'Fn::GetAtt': [ids.queue, 'Arn'] },
          }),
        ]),
      },
    });
    // AND nothing else is allowed on the queue: that statement and the TLS-only deny are all there is
    const [resource] = Object.values(byDefault.template.findResources('AWS::SQS::QueuePolicy')).filter(
      (policy) => JSON.stringify(policy.Properties.Queues) === JSON.stringify([{ Ref: ids.queue }]),
    );
    const statements = (resource.Properties.PolicyDocument as { Statement: { Effect: string }[] }).Statement;
    expect(statements.map((s) => s.Effect).sort()).toEqual(['Allow', 'Deny']);
  });
});

describe('Trigger built alone', () => {
  const build = (inputPrefix: string) => {
    // GIVEN the construct alone in a fresh stack, with its own bucket, state machine and queue
    const stack = freshStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const stateMachine = new sfn.StateMachine(stack, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
    });
    const deadLetterQueue = new sqs.Queue(stack, 'Queue');
    new Trigger(stack, 'Trigger', { bucket, inputPrefix, stateMachine, deadLetterQueue });
    return { stack, rule: only(stack, 'AWS::Events::Rule'), ids: { bucket, stateMachine, deadLetterQueue } };
  };

  test.each(['uploads/', ''])('inputPrefix %j becomes the key prefix of the pattern', (inputPrefix) => {
    const { stack, rule, ids } = build(inputPrefix);
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: logicalIdOf(stack, ids.bucket) }] },
        object: { key: [{ prefix: inputPrefix }] },
      },
    });
  });

  test("targets the state machine, retrying for EventBridge's maximum, then the dead-letter queue", () => {
    const { stack, rule, ids } = build('incoming/');
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { Ref: logicalIdOf(stack, ids.stateMachine) },
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(stack, ids.deadLetterQueue), 'Arn'] } },
      }),
    ]);
  });
});
