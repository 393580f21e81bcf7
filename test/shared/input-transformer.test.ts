import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

import {
  applyInputTransformer,
  evaluateJsonPath,
  type InputTransformer,
  targetInputFor,
} from '../../shared/input-transformer';

const TRICKY_KEY = 'incoming/a "quoted" b+c%2B=(x) ü 日本.txt';

/** An S3 "Object Created" event for an unversioned bucket: no `version-id`. */
const objectCreated = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '111122223333',
  time: '2021-11-12T00:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:s3:::my-bucket'],
  detail: {
    version: '0',
    bucket: { name: 'my-bucket' },
    object: { key: TRICKY_KEY, size: 1234, etag: 'b1946ac92492d2347c6235b4d2611184' },
    reason: 'PutObject',
  },
};

/** The InputTransformer that aws-cdk-lib synthesizes for a Step Functions rule target. */
function synthesizedTransformer(input: events.RuleTargetInput): InputTransformer {
  const stack = new Stack(new App(), 'TransformerStack');
  const stateMachine = new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
  });
  new events.Rule(stack, 'Rule', { eventPattern: { source: ['aws.s3'] } }).addTarget(
    new targets.SfnStateMachine(stateMachine, { input }),
  );
  const rule = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'))[0];
  return rule.Properties.Targets[0].InputTransformer;
}

describe('applyInputTransformer with the transformer aws-cdk-lib synthesizes', () => {
  const field = events.EventField.fromPath;
  const transformer = synthesizedTransformer(
    events.RuleTargetInput.fromObject({
      bucket: field('$.detail.bucket.name'),
      key: field('$.detail.object.key'),
      etag: field('$.detail.object.etag'),
      size: field('$.detail.object.size'),
      versionId: field('$.detail.object.version-id'),
    }),
  );

  it('is a template with bare placeholders, so values keep their JSON types', () => {
    expect(transformer.InputTemplate).toBe(
      '{"bucket":<detail-bucket-name>,"key":<detail-object-key>,"etag":<detail-object-etag>,' +
        '"size":<detail-object-size>,"versionId":<detail-object-version-id>}',
    );
    expect(transformer.InputPathsMap).toMatchObject({ 'detail-object-key': '$.detail.object.key' });
  });

  it('passes a key with quotes, plus signs, percent-escapes and unicode through unchanged', () => {
    expect(applyInputTransformer(transformer, objectCreated)).toEqual({
      bucket: 'my-bucket',
      key: TRICKY_KEY,
      etag: 'b1946ac92492d2347c6235b4d2611184',
      size: 1234,
      versionId: null,
    });
  });

  it('escapes a value interpolated into a string', () => {
    const interpolating = synthesizedTransformer(
      events.RuleTargetInput.fromObject({
        uri: `s3://${field('$.detail.bucket.name')}/${field('$.detail.object.key')}`,
        summary: `${field('$.detail.object.size')} bytes, version "${field('$.detail.object.version-id')}"`,
      }),
    );
    expect(interpolating.InputTemplate).toContain('"uri":"s3://<detail-bucket-name>/<detail-object-key>"');
    const weirdKey = 'incoming/back\\slash\ttab\nnewline "q".txt';
    const event = {
      ...objectCreated,
      detail: { ...objectCreated.detail, object: { key: weirdKey, size: 7 } },
    };
    expect(applyInputTransformer(interpolating, event)).toEqual({
      uri: `s3://my-bucket/${weirdKey}`,
      summary: '7 bytes, version ""',
    });
  });
});

describe('applyInputTransformer on the examples of the input transformation guide', () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
  const ec2Event = {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2015-11-11T21:29:54Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    detail: { 'instance-id': 'i-0123456789', state: 'RUNNING' },
  };
  const InputPathsMap = { timestamp: '$.time', instance: '$.detail.instance-id', state: '$.detail.state' };
  const reserved = { ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example', ruleName: 'example' };
  const transform = (InputTemplate: string) =>
    applyInputTransformer({ InputPathsMap, InputTemplate }, ec2Event, reserved);

  it.each([
    ['simple string', '"instance <instance> is in <state>"', 'instance i-0123456789 is in RUNNING'],
    [
      'string with escaped quotes',
      '"instance \\"<instance>\\" is in <state>"',
      'instance "i-0123456789" is in RUNNING',
    ],
    [
      'simple JSON',
      '{"instance" : <instance>, "state": <state>}',
      { instance: 'i-0123456789', state: 'RUNNING' },
    ],
    [
      'JSON with strings and variables',
      '{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
      { instance: 'i-0123456789', state: 'RUNNING', instanceStatus: 'instance "i-0123456789" is in RUNNING' },
    ],
    [
      'JSON with a mix of variables and static information',
      '{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
      { instance: 'i-0123456789', state: [9, 'RUNNING', true], Transformed: 'Yes' },
    ],
    [
      'reserved variables in JSON',
      '{"instance": <instance>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "originalEvent": <aws.events.event>}',
      { instance: 'i-0123456789', ruleArn: reserved.ruleArn, ruleName: 'example', originalEvent: ec2Event },
    ],
    ['reserved variables in a string', '"<aws.events.rule-name> triggered"', 'example triggered'],
  ])('%s', (_name, template, expected) => {
    expect(transform(template)).toEqual(expected);
  });

  it('gives <aws.events.event.json> as a string holding the event JSON, bare or quoted', () => {
    expect(transform('{"raw": <aws.events.event.json>, "inString": "<aws.events.event.json>"}')).toEqual({
      raw: JSON.stringify(ec2Event),
      inString: JSON.stringify(ec2Event),
    });
  });

  it('inserts nothing for a path that matches nothing: null when bare, empty inside a string', () => {
    const result = applyInputTransformer(
      {
        InputPathsMap: { missing: '$.detail.nope' },
        InputTemplate: '{"bare": <missing>, "quoted": "[<missing>]"}',
      },
      ec2Event,
    );
    expect(result).toEqual({ bare: null, quoted: '[]' });
  });

  it('leaves placeholders that name no variable as they are', () => {
    expect(transform('{"literal": "<not-a-variable> <instance>"}')).toEqual({
      literal: '<not-a-variable> i-0123456789',
    });
  });

  it('uses the given ingestion time', () => {
    const result = applyInputTransformer(
      { InputTemplate: '{"at": <aws.events.event.ingestion-time>}' },
      ec2Event,
      {
        ingestionTime: '2024-01-01T00:00:00Z',
      },
    );
    expect(result).toEqual({ at: '2024-01-01T00:00:00Z' });
  });
});

describe('applyInputTransformer errors', () => {
  it('names the template when the result is not JSON, e.g. an object placed inside a string', () => {
    const transformer = {
      InputPathsMap: { detail: '$.detail' },
      InputTemplate: '{"text": "detail: <detail>"}',
    };
    expect(() => applyInputTransformer(transformer, { detail: { a: 'b' } })).toThrow(
      /InputTemplate "\{\\"text\\": \\"detail: <detail>\\"\}", filled in for this event, is not valid JSON[\s\S]*holds a string or number/,
    );
  });

  it('names the variable of a malformed path', () => {
    expect(() =>
      applyInputTransformer({ InputPathsMap: { key: 'detail.key' }, InputTemplate: '<key>' }, {}),
    ).toThrow('InputPathsMap["key"]: "detail.key" is not a JSONPath; it must start with "$"');
  });

  it('asks for the rule ARN when the template uses it and none was given', () => {
    expect(() => applyInputTransformer({ InputTemplate: '{"arn": <aws.events.rule-arn>}' }, {})).toThrow(
      'The input template uses <aws.events.rule-arn>; pass { ruleArn }',
    );
  });

  it('points at intrinsics when the template is still a CloudFormation expression', () => {
    const unresolved = {
      InputTemplate: { 'Fn::Join': ['', ['{"a":', '1}']] },
    } as unknown as InputTransformer;
    expect(() => applyInputTransformer(unresolved, {})).toThrow(/resolve CloudFormation intrinsics/);
  });
});

describe('evaluateJsonPath', () => {
  const event = { detail: { 'object-key': 'k', list: [{ id: 1 }, { id: 2 }], 'dotted.name': 'd' } };

  it.each([
    ['$', event],
    ['$.detail.object-key', 'k'],
    ["$.detail['object-key']", 'k'],
    ['$["detail"]["dotted.name"]', 'd'],
    ['$.detail.list[1].id', 2],
    ['$.detail.list[*].id', [1, 2]],
    ['$.detail.list.*.id', [1, 2]],
    ['$.detail.list[5]', undefined],
    ['$.detail.nope.deeper', undefined],
    ['$.detail.constructor', undefined],
  ])('%s', (path, expected) => {
    expect(evaluateJsonPath(path, event)).toEqual(expected);
  });

  it('rejects syntax outside the supported subset, saying where', () => {
    expect(() => evaluateJsonPath('$.detail[?(@.id)]', event)).toThrow(/at position 8/);
  });
});

describe('targetInputFor', () => {
  const event = { detail: { key: 'a' } };

  it('sends constant Input as parsed JSON', () => {
    expect(targetInputFor({ Input: '{"fixed":true}' }, event)).toEqual({ fixed: true });
  });

  it('sends the part of the event that InputPath selects', () => {
    expect(targetInputFor({ InputPath: '$.detail' }, event)).toEqual({ key: 'a' });
  });

  it('applies an InputTransformer', () => {
    const InputTransformer = { InputPathsMap: { key: '$.detail.key' }, InputTemplate: '{"k": <key>}' };
    expect(targetInputFor({ InputTransformer }, event)).toEqual({ k: 'a' });
  });

  it('sends the whole event when the target sets none of them', () => {
    expect(targetInputFor({}, event)).toBe(event);
  });

  it('rejects Input that is not JSON', () => {
    expect(() => targetInputFor({ Input: 'not json' }, event)).toThrow(
      /the rule target's "Input" is not valid JSON/,
    );
  });
});
