import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';

import { parseConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline-stack';

/** A registry image, so no test needs Docker or the container build. */
export const TEST_IMAGE = ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine');

/** Feature flags exactly as cdk.json sets them, so tests see what `cdk synth` produces. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const CDK_JSON_CONTEXT: Record<string, unknown> = require('../../cdk.json').context;

export interface Synthesized {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly template: Template;
}

/** GIVEN the app configured with cdk.json's context plus `context` overrides. */
export function synthPipeline(context: Record<string, unknown> = {}): Synthesized {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...context } });
  const config = parseConfig((key) => app.node.tryGetContext(key));
  const stack = new PipelineStack(app, 'TestPipeline', { config, image: TEST_IMAGE });
  return { app, stack, template: Template.fromStack(stack) };
}
