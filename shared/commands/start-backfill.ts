/**
 * `npm run backfill`: starts the backfill state machine over the objects that already exist under
 * the input prefix, or under a sub-prefix of it.
 */
import { parseArgs } from 'node:util';

import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

import { backfillPrefix } from '../backfill-prefix';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine, UsageError } from './command';
import { readStackOutputs, requireOutput } from './stack-outputs';

export const BACKFILL_USAGE = `Usage: npm run backfill -- [sub/prefix/] [--stack NAME]

Starts one run of the backfill state machine over the objects already under the stack's input
prefix (or under input prefix + sub-prefix): its Distributed Map runs one execution per object.
Prints the run's execution ARN; \`npm run failures\` lists the objects that failed.

Options:
  --stack <name>   the deployed stack to read the state machine and input prefix from (default ${STACK_NAME})
  -h, --help       show this help`;

export const BACKFILL_OPTIONS = {
  stack: { type: 'string', default: STACK_NAME },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function startBackfill(
  argv: readonly string[],
  print: (line: string) => void,
  aws: AwsClientSettings = {},
): Promise<number> {
  const { values, positionals } = parsedCommandLine(() =>
    parseArgs({ args: [...argv], options: BACKFILL_OPTIONS, allowPositionals: true }),
  );
  if (values.help) {
    print(BACKFILL_USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected at most one sub-prefix, got ${positionals.map((p) => JSON.stringify(p)).join(', ')}: pass one, e.g. 2024/`,
    );
  }
  const stackName = values.stack;
  const outputs = await readStackOutputs(stackName, '--backfill', aws);
  const stateMachineArn = requireOutput(outputs, 'BackfillStateMachineArn', stackName);
  let prefix: string;
  try {
    prefix = backfillPrefix(requireOutput(outputs, 'InputPrefix', stackName), positionals[0]);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const sfn = new SFNClient(aws);
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, input: JSON.stringify({ prefix }) }),
    );
    print(`backfill of "${prefix}" started: ${started.executionArn}`);
    return 0;
  } finally {
    sfn.destroy();
  }
}
