import { Template } from 'aws-cdk-lib/assertions';

import { Synthesized, synthesized } from './fixture';

let byDefault: Synthesized;

beforeAll(() => {
  // GIVEN the app as cdk.json configures it
  byDefault = synthesized('default');
});

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
