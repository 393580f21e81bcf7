#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

import { CONFIG_KEYS, ConfigError, parseConfig } from '../lib/config';
import { PipelineStack } from '../lib/pipeline-stack';
import { STACK_NAME } from '../shared/stack-name';

const app = new App();
try {
  new PipelineStack(app, STACK_NAME, {
    config: parseConfig((key) => app.node.tryGetContext(key)),
    description: 'S3 object created -> EventBridge -> Step Functions -> Fargate worker (s3-fargate-pipeline)',
    // Deploys to the account/region of the CLI's credentials; synth needs none.
    env: process.env.CDK_DEFAULT_ACCOUNT
      ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
      : undefined,
  });
} catch (err) {
  if (err instanceof ConfigError) {
    // A stack trace would bury the message; the keys and fixes are all the user needs.
    console.error(`${err.message}\n\nKeys read: ${CONFIG_KEYS.join(', ')}. See README "Configuration".`);
    process.exit(1);
  }
  throw err;
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
