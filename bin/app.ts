#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { ConfigError, parseConfig } from '../lib/config';
import { PipelineStack } from '../lib/pipeline-stack';
import { STACK_NAME } from '../shared/stack-name';

// aws-cdk-lib's built-in CloudFormation validation costs ~2.6 s of every synth (npm start, simulate,
// deploy) and only warns here; npm test runs it instead, on every configuration mode, and fails on
// any finding (test/lib/cloudformation-validation.test.ts).
const app = new App({ builtinCloudFormationValidation: false });
try {
  new PipelineStack(app, STACK_NAME, {
    config: parseConfig(
      (key) => app.node.tryGetContext(key),
      Object.keys(app.node.getAllContext() as Record<string, unknown>),
    ),
    description: 'S3 object created -> EventBridge -> Step Functions -> Fargate worker (s3-fargate-pipeline)',
    // Deploys to the account/region of the CLI's credentials; synth needs none.
    env: process.env.CDK_DEFAULT_ACCOUNT
      ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
      : undefined,
  });
} catch (err) {
  if (err instanceof ConfigError) {
    // A stack trace would bury the message, which names each key, its problem and the fix. Exit 2
    // is bad input, as for every command of this project; `npm start` shows only these lines.
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
