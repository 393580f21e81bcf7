import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { App, CloudFormationValidatePlugin } from 'aws-cdk-lib';

import { rememberedReports } from '../support/remembered-validation';
import { type ConfigurationName, CONFIGURATIONS, storedTemplate } from './support/synth';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const CDK_LIB_VERSION: string = require('aws-cdk-lib/package.json').version;

/**
 * aws-cdk-lib's built-in CloudFormation validation (resource schemas and its default rules), which
 * bin/app.ts turns off to keep every synth ~2.6 s shorter: here it runs on the template of every
 * configuration mode, and any finding fails, a warning as much as an error (on synth it only warns).
 */

let directory: string;
const plugin = new CloudFormationValidatePlugin();
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cfn-validate-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function findings(name: string, template: Record<string, unknown>) {
  const templatePath = join(directory, `${name}.template.json`);
  writeFileSync(templatePath, JSON.stringify(template));
  // The report kept per case while the case's template is byte for byte the same: it takes ~0.5 s of
  // CPU a template, and ~9 s more for the first, which loads the resource schemas aws-cdk-lib ships.
  const validator = rememberedReports(plugin, `cloudformation-validate-${name}`, {
    dependsOn: [`aws-cdk-lib ${CDK_LIB_VERSION}`],
  });
  const report = validator.validate({
    templatePaths: [templatePath],
    stackTemplates: [{ stackConstructPath: name, templatePath, accountId: undefined, region: undefined }],
    // The plugin reads only the files; the context requires an app.
    appConstruct: new App(),
  });
  return report.violations.map((v) => ({
    rule: v.ruleName,
    severity: v.severity,
    description: v.description,
    resources: v.violatingResources.map((r) => r.resourceLogicalId),
  }));
}

test.each(Object.keys(CONFIGURATIONS) as ConfigurationName[])(
  'the %s template has no CloudFormation validation finding',
  (name) => {
    expect(findings(name, storedTemplate(name))).toEqual([]);
  },
);

test('the validation finds what CloudFormation would refuse: a property the schema does not have', () => {
  const template = structuredClone(storedTemplate('default')) as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const [bucketId, bucket] = Object.entries(template.Resources).find(
    ([, r]) => r.Type === 'AWS::S3::Bucket',
  )!;
  bucket.Properties = {
    ...bucket.Properties,
    VersioningConfiguration: { Status: 'Maybe' },
    NoSuchProperty: 1,
  };

  expect(findings('broken', template)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ rule: 'F3002', severity: 'error', resources: [bucketId] }),
      expect.objectContaining({ description: expect.stringContaining("'Maybe' is not one of") }),
    ]),
  );
});
