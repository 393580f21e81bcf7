#!/usr/bin/env node
/**
 * Starts the backfill state machine over the objects that already exist under the
 * input prefix, or under a sub-prefix of it.
 *   npm run backfill -- [sub/prefix/] [--stack S3FargatePipeline]
 */
import { parseArgs } from 'node:util';

import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

import { backfillPrefix } from '../shared/backfill-prefix';
import { STACK_NAME } from '../shared/stack-name';
import { exitWithError, readStackOutputs, requireOutput } from './stack-outputs';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { stack: { type: 'string', default: STACK_NAME } },
  });
  if (positionals.length > 1) throw new Error(`expected at most one sub-prefix, got ${positionals.length}`);
  const stackName = values.stack as string;
  const outputs = await readStackOutputs(stackName, '--backfill');
  const stateMachineArn = requireOutput(outputs, 'BackfillStateMachineArn', stackName);
  const prefix = backfillPrefix(requireOutput(outputs, 'InputPrefix', stackName), positionals[0]);
  const started = await new SFNClient({}).send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ prefix }) }),
  );
  console.log(`backfill of "${prefix}" started: ${started.executionArn}`);
}

main().catch(exitWithError);
