/**
 * `npm run redrive`: runs again the failed executions `npm run failures` lists: each object in a new
 * execution with the same input under a deterministic name; a backfill run that failed by itself, or
 * whose Map Run left objects it never started or aborted, with RedriveExecution (its Map Run is
 * redriven).
 */
import { parseArgs } from 'node:util';

import {
  DescribeMapRunCommand,
  ExecutionAlreadyExists,
  paginateListMapRuns,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';

import { type FailedExecution, REDRIVE_WINDOW_DAYS } from '../failed-executions';
import {
  executionArnOf,
  planRedrives,
  type RedriveClient,
  redriveFailures,
  redriveLine,
  type RedriveOutcome,
  redriveSummary,
} from '../redrive';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine } from './command';
import { describeFailure, listFailures, parseSince, stepFunctionsClient } from './execution-history';
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
  - a backfill run that failed, was stopped or timed out before its Map Run finished (objects it
    never started, or aborted): RedriveExecution (without --key-prefix, up to ${REDRIVE_WINDOW_DAYS} days): its
    Map Run runs again only what did not succeed, its aborted objects under the same executions (so
    they are not restarted one by one), and starts the objects it never started; the objects that
    failed are restarted as above (the Map Run would only rerun their Fail state). Not when those
    failures alone are past the run's tolerated failures: its Map Run would fail again at once.
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
    const listed = await listFailures(sfn, { workflowArn, backfillArn, since });
    // A run's Map Run covers every prefix: with --key-prefix, its objects are restarted one by one.
    const { failures, notes } =
      values['key-prefix'] === ''
        ? await withMapRunRedrives(sfn, listed)
        : { failures: listed, notes: new Map() };
    const plan = planRedrives(failures, { workflowArn, keyPrefix: values['key-prefix'] });
    const noted = (outcome: RedriveOutcome): RedriveOutcome => ({
      ...outcome,
      detail: outcome.detail ?? notes.get(outcome.failedExecutionArn),
    });
    const report = await redriveFailures(plan, stepFunctionsRedrive(sfn), {
      dryRun: values['dry-run'],
      onOutcome: (outcome) => {
        if (!values.json) print(redriveLine(noted(outcome)));
      },
    });
    if (values.json) {
      const outcomes = report.outcomes
        .map(noted)
        .map(({ key, action, failedExecutionArn, executionArn, detail }) => ({
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

/**
 * The failures with each redrivable backfill run whose Map Runs left work a RedriveExecution does
 * (items never started, children aborted or timed out: a Map Run's redrive reruns those under their
 * ARNs) in place of its aborted and timed-out objects, which would otherwise be restarted one by one
 * and processed twice. Its failed objects stay: a redrive reruns only their Fail state. Not a run
 * whose failed objects alone are past its tolerance: its redriven Map Run would fail again at once.
 * `notes`: what each such run's redrive does, by its ARN.
 */
async function withMapRunRedrives(
  sfn: SFNClient,
  listed: readonly FailedExecution[],
): Promise<{ failures: FailedExecution[]; notes: Map<string, string> }> {
  const notes = new Map<string, string>();
  let failures = [...listed];
  const runs = new Set(
    listed
      .filter((failure) => failure.backfillRun?.redriveStatus === 'REDRIVABLE')
      .map((failure) => failure.backfillRun!.executionArn),
  );
  for (const runArn of runs) {
    const work = await mapRunWork(sfn, runArn);
    if (!work) continue;
    failures = failures.filter((f) => f.backfillRun?.executionArn !== runArn || f.status === 'FAILED');
    failures.push(await describeFailure(sfn, runArn, 'backfill'));
    notes.set(
      runArn,
      `its Map Run reruns ${work.rerun} aborted or timed-out objects and starts ${work.unstarted} it never started`,
    );
  }
  return { failures: failures.sort((a, b) => a.stopDate.getTime() - b.stopDate.getTime()), notes };
}

/** What redriving the run would do in its Map Runs (DescribeMapRun); undefined when nothing, or in vain. */
async function mapRunWork(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ rerun: number; unstarted: number } | undefined> {
  let rerun = 0;
  let unstarted = 0;
  for await (const page of paginateListMapRuns({ client: sfn }, { executionArn })) {
    for (const { mapRunArn } of page.mapRuns ?? []) {
      const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
      const executions = run.executionCounts;
      const failed = executions?.failed ?? 0;
      const total = run.itemCounts?.total ?? 0;
      const percentage = run.toleratedFailurePercentage ?? 0;
      const count = run.toleratedFailureCount ?? 0;
      const pastTolerance =
        (percentage > 0 && failed * 100 > percentage * total) ||
        (count > 0 && failed > count) ||
        (percentage === 0 && count === 0 && failed > 0);
      if (pastTolerance) return undefined;
      rerun += (executions?.aborted ?? 0) + (executions?.timedOut ?? 0);
      unstarted += run.itemCounts?.pending ?? 0;
    }
  }
  return rerun + unstarted > 0 ? { rerun, unstarted } : undefined;
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
