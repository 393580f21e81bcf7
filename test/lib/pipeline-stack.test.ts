import * as fs from 'node:fs';
import * as path from 'node:path';

import { Template } from 'aws-cdk-lib/assertions';

import { Synthesized, synthesized } from './support/synth';
import { type Resource } from './support/template';

let byDefault: Synthesized;
let otherOutput: Synthesized;
let uploads: Synthesized;
let destroy: Synthesized;

beforeAll(() => {
  // GIVEN the app as cdk.json configures it, one writing results to another bucket, and one watching "uploads/"
  byDefault = synthesized('default');
  otherOutput = synthesized('outputBucket');
  uploads = synthesized('uploadsPrefix');
  destroy = synthesized('destroy');
});

/** The AWS commands (bin/ runs each from shared/commands). */
const BIN = path.join(__dirname, '..', '..', 'shared', 'commands');

/** The output keys a command in shared/commands reads with `requireOutput(outputs, '<Key>', ...)`. */
function outputsRequiredBy(script: string): string[] {
  const source = fs.readFileSync(path.join(BIN, script), 'utf8');
  return [...source.matchAll(/requireOutput\(\s*outputs\s*,\s*'([^']+)'/g)].map((m) => m[1]);
}

/** The commands in shared/commands that read stack outputs. */
const READERS = fs
  .readdirSync(BIN)
  .filter((f) => f.endsWith('.ts') && outputsRequiredBy(f).length > 0)
  .sort();

/**
 * The template with what changes on every unrelated edit taken out: asset hashes (64 hex
 * digits, in S3 keys and image tags) and the worker image URI.
 */
function normalized(template: Template): unknown {
  const json = JSON.parse(JSON.stringify(template.toJSON()).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
  for (const resource of Object.values(json.Resources) as {
    Type: string;
    Properties: Record<string, unknown>;
  }[]) {
    if (resource.Type !== 'AWS::ECS::TaskDefinition') continue;
    for (const container of resource.Properties.ContainerDefinitions as { Image: unknown }[]) {
      container.Image = '<worker-image>';
    }
  }
  return json;
}

describe('PipelineStack', () => {
  test.each(['AWS::Logs::LogGroup', 'AWS::S3::Bucket', 'AWS::SQS::Queue'])(
    'every %s (the VPC flow log group too) is retained by default and deleted with removalPolicy=destroy',
    (type) => {
      // The launch gate's line holds only task tokens of running executions: always deleted
      // (launch-gate.test.ts).
      const policies = (synth: Synthesized) =>
        Object.entries(synth.template.findResources(type))
          .filter(([id]) => !id.startsWith('LaunchGate'))
          .map(([, r]) => r)
          .map((r) => [r.DeletionPolicy, r.UpdateReplacePolicy]);
      expect(policies(byDefault).length).toBeGreaterThan(0);
      for (const policy of policies(byDefault)) expect(policy).toEqual(['Retain', 'Retain']);
      expect(policies(destroy)).toHaveLength(policies(byDefault).length);
      for (const policy of policies(destroy)) expect(policy).toEqual(['Delete', 'Delete']);
    },
  );

  test('outputs what a user needs to upload, follow and replay', () => {
    const { ids, template } = byDefault;
    const bucket = ids.dataBucket;
    template.hasOutput('BucketName', { Value: { Ref: bucket } });
    template.hasOutput('InputPrefix', { Value: 'incoming/' });
    template.hasOutput('OutputLocation', {
      Value: { 'Fn::Join': ['', ['s3://', { Ref: bucket }, '/processed/']] },
    });
    template.hasOutput('StateMachineArn', { Value: { Ref: ids.workflowStateMachine } });
    template.hasOutput('DeadLetterQueueUrl', { Value: { Ref: ids.deadLetterQueue } });
    template.hasOutput('BackfillStateMachineArn', { Value: { Ref: ids.backfillStateMachine } });
    template.hasOutput('RuleName', { Value: { Ref: ids.rule } });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: ids.alarmTopic } });
    template.hasOutput('WorkerLogGroup', { Value: { Ref: ids.workerLogGroup } });
    template.hasOutput('WorkflowLogGroup', { Value: { Ref: ids.workflowLogGroup } });
    template.hasOutput('UploadCommand', {
      Value: {
        'Fn::Join': ['', ['aws s3 cp ./my-file.csv s3://', { Ref: bucket }, '/incoming/my-file.csv']],
      },
    });
  });

  test('has exactly these outputs, none exported (nothing else may come to depend on them)', () => {
    const outputs = byDefault.template.toJSON().Outputs as Record<string, Record<string, unknown>>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AlarmTopicArn',
        'BackfillStateMachineArn',
        'BucketName',
        'DeadLetterQueueUrl',
        'InputPrefix',
        'LaunchSlotsTable',
        'ObjectRecordsTableName',
        'OutputLocation',
        'RuleName',
        'StateMachineArn',
        'UploadCommand',
        'WorkerLogGroup',
        'WorkflowLogGroup',
      ].sort(),
    );
    expect(Object.values(outputs).filter((o) => o.Export !== undefined)).toEqual([]);
  });

  test('the input prefix and the output location follow the configuration', () => {
    otherOutput.template.hasOutput('OutputLocation', { Value: 's3://some-bucket/processed/' });
    uploads.template.hasOutput('InputPrefix', { Value: 'uploads/' });
    uploads.template.hasOutput('UploadCommand', {
      Value: {
        'Fn::Join': [
          '',
          ['aws s3 cp ./my-file.csv s3://', { Ref: uploads.ids.dataBucket }, '/uploads/my-file.csv'],
        ],
      },
    });
  });

  test.each(READERS)(
    'has every output that shared/commands/%s requires (renaming one breaks this test)',
    (script) => {
      const required = outputsRequiredBy(script);
      expect(required.length).toBeGreaterThan(0);
      const outputs = Object.keys(byDefault.template.toJSON().Outputs);
      expect(required.filter((key) => !outputs.includes(key))).toEqual([]);
    },
  );

  test('the scan above reads the key of every requireOutput call in shared/commands', () => {
    // (the commands documented as reading outputs are among those found)
    expect(READERS).toEqual(expect.arrayContaining(['replay-dead-letters.ts', 'start-backfill.ts']));
    for (const script of fs.readdirSync(BIN).filter((f) => f.endsWith('.ts'))) {
      const source = fs.readFileSync(path.join(BIN, script), 'utf8');
      const calls = source.match(/\brequireOutput\(/g)?.length ?? 0;
      const definitions = source.match(/function requireOutput\(/g)?.length ?? 0;
      // THEN each call names its key as a string literal, which the scan reads
      expect({ script, keys: outputsRequiredBy(script).length }).toEqual({
        script,
        keys: calls - definitions,
      });
    }
  });

  test("StateMachineArn is the rule target's ARN, which the replay command matches it against", () => {
    // (shared/commands/replay-dead-letters.ts looks up the rule's target whose Arn equals this output)
    const resource = byDefault.template.toJSON().Resources[byDefault.ids.rule] as Resource;
    const [target] = resource.Properties.Targets as { Arn: unknown }[];
    expect(byDefault.template.toJSON().Outputs.StateMachineArn.Value).toEqual(target.Arn);
  });

  test('the normalization only removes asset hashes and the image', () => {
    const text = JSON.stringify(normalized(byDefault.template));
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    expect(text).toContain('"Image":"<worker-image>"');
  });

  // A safety net after the fine-grained tests: any other change to the template shows up
  // here for review (update with `npx jest test/lib -u` once it is intended).
  test('the whole template matches the snapshot', () => {
    expect(normalized(byDefault.template)).toMatchSnapshot();
  });
});
