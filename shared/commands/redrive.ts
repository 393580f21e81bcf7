/**
 * `npm run redrive`: runs again the failed executions `npm run failures` lists: each object in a new
 * execution with the same input under a deterministic name; a backfill run that failed by itself with
 * RedriveExecution.
 */
import { parseArgs } from 'node:util';

import {
  ExecutionAlreadyExists,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { REDRIVE_WINDOW_DAYS } from '../failed-executions';
import {
  executionArnOf,
  planRedrives,
  type RedriveClient,
  redriveFailures,
  redriveLine,
  redriveSummary,
} from '../redrive';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine } from './command';
import { listFailures, parseSince, stepFunctionsClient } from './execution-history';
import { readStackOutputs, requireOutput } from './stack-outputs';

export const REDRIVE_USAGE = `Usage: npm run redrive -- [--since 24h|<ISO date>] [--key-prefix P] [--dry-run] [--stack NAME] [--json]

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
  --json               print {"since": ..., "redrive": [{key, action, failedExecutionArn,
                       executionArn, detail}]} instead of lines
  -h, --help           show this help`;

export const REDRIVE_OPTIONS = {
  since: { type: 'string', default: '24h' },
  'key-prefix': { type: 'string', default: '' },
  'dry-run': { type: 'boolean', default: false },
  stack: { type: 'string', default: STACK_NAME },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function redrive(
  argv: readonly string[],
  print: (line: string) => void,
  aws: AwsClientSettings = {},
): Promise<number> {
  const { values } = parsedCommandLine(() => parseArgs({ args: [...argv], options: REDRIVE_OPTIONS }));
  if (values.help) {
    print(REDRIVE_USAGE);
    return 0;
  }
  const since = parseSince(values.since);
  const outputs = await readStackOutputs(values.stack, '--redrive', aws);
  const workflowArn = requireOutput(outputs, 'StateMachineArn', values.stack);
  const backfillArn = requireOutput(outputs, 'BackfillStateMachineArn', values.stack);
  const sfn = stepFunctionsClient(aws);
  try {
    const failed = await listFailures(sfn, { workflowArn, backfillArn, since });
    const plan = planRedrives(failed, { workflowArn, keyPrefix: values['key-prefix'] });
    const report = await redriveFailures(plan, stepFunctionsRedrive(sfn), {
      dryRun: values['dry-run'],
      onOutcome: (outcome) => {
        if (!values.json) print(redriveLine(outcome));
      },
    });
    if (values.json) {
      const outcomes = report.outcomes.map(({ key, action, failedExecutionArn, executionArn, detail }) => ({
        key,
        action,
        failedExecutionArn,
        executionArn: executionArn ?? null,
        detail: detail ?? null,
      }));
      print(JSON.stringify({ since: since.toISOString(), redrive: outcomes }, null, 2));
    } else {
      print(
        `${redriveSummary(report)} since ${since.toISOString()}${values['dry-run'] ? ' (dry run: nothing changed)' : ''}`,
      );
    }
    return report.notRedriven > 0 ? 1 : 0;
  } finally {
    sfn.destroy();
  }
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
