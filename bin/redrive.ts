#!/usr/bin/env node
/**
 * Runs again the failed executions `npm run failures` lists: each object in a new execution with the
 * same input under a deterministic name; a backfill run that failed by itself with RedriveExecution.
 */
import { parseArgs } from 'node:util';

import {
  ExecutionAlreadyExists,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { REDRIVE_WINDOW_DAYS } from '../shared/failed-executions';
import {
  executionArnOf,
  planRedrives,
  type RedriveClient,
  redriveFailures,
  redriveLine,
  redriveSummary,
} from '../shared/redrive';
import { STACK_NAME } from '../shared/stack-name';
import { listFailures, parseSince, stepFunctionsClient } from './execution-history';
import { exitWithError, readStackOutputs, requireOutput } from './stack-outputs';

export const REDRIVE_USAGE = `Usage: npm run redrive -- [--since 24h|<ISO date>] [--key-prefix P] [--dry-run] [--stack NAME]

Runs again every execution \`npm run failures\` lists (same options), once the cause is fixed:
  - an object's failed execution (event-driven, or a backfill's, even while its run goes on): a new
    execution of the event-driven workflow with the same input, named redrive-<hash of the failed
    execution's ARN>-...: Step Functions refuses a second execution of a name, so running this
    command twice never processes an object twice. (RedriveExecution would resume it at the state
    that failed: the Fail state after a task failure, past the launch gate after a stop.)
  - a backfill run that failed by itself (no failed object): RedriveExecution, up to
    ${REDRIVE_WINDOW_DAYS} days after it stopped: it resumes its Map, which lists again; past that,
    start a new one.
Prints one line per execution and a summary; exits 1 if any could not be run again.

Options:
  --since <when>       how far back: a duration (90m, 24h, 7d) or an ISO 8601 date (default 24h)
  --key-prefix <p>     only the objects whose key starts with p (default: all)
  --dry-run            print what would be done, change nothing
  --stack <name>       the deployed stack to read the state machines from (default ${STACK_NAME})
  -h, --help           show this help`;

export const REDRIVE_OPTIONS = {
  since: { type: 'string', default: '24h' },
  'key-prefix': { type: 'string', default: '' },
  'dry-run': { type: 'boolean', default: false },
  stack: { type: 'string', default: STACK_NAME },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function redrive(argv: readonly string[], print: (line: string) => void): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: REDRIVE_OPTIONS });
  if (values.help) {
    print(REDRIVE_USAGE);
    return 0;
  }
  const since = parseSince(values.since);
  const outputs = await readStackOutputs(values.stack, '--redrive');
  const workflowArn = requireOutput(outputs, 'StateMachineArn', values.stack);
  const backfillArn = requireOutput(outputs, 'BackfillStateMachineArn', values.stack);
  const sfn = stepFunctionsClient();
  const failed = await listFailures(sfn, { workflowArn, backfillArn, since });
  const plan = planRedrives(failed, { workflowArn, keyPrefix: values['key-prefix'] });
  const report = await redriveFailures(plan, stepFunctionsRedrive(sfn), {
    dryRun: values['dry-run'],
    onOutcome: (outcome) => print(redriveLine(outcome)),
  });
  print(
    `${redriveSummary(report)} since ${since.toISOString()}${values['dry-run'] ? ' (dry run: nothing changed)' : ''}`,
  );
  return report.notRedriven > 0 ? 1 : 0;
}

function stepFunctionsRedrive(sfn: SFNClient): RedriveClient {
  return {
    async redrive(executionArn) {
      // The SDK fills in a client token that its retries reuse: a retried call is one redrive.
      await sfn.send(new RedriveExecutionCommand({ executionArn }));
    },
    async start(stateMachineArn, name, input) {
      try {
        const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
        // Same name and input as a still-running execution: Step Functions returns that one.
        return {
          executionArn: started.executionArn ?? executionArnOf(stateMachineArn, name),
          existed: false,
        };
      } catch (error) {
        if (!(error instanceof ExecutionAlreadyExists)) throw error;
        return { executionArn: executionArnOf(stateMachineArn, name), existed: true };
      }
    },
  };
}

if (require.main === module) {
  redrive(process.argv.slice(2), console.log).then((code) => process.exit(code), exitWithError);
}
