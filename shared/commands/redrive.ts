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
    ${REDRIVE_WINDOW_DAYS} days after it stopped: it resumes its Map (which lists again if its Map Run
    never started; otherwise its Map Run is redriven); past that, start a new one.
  - a backfill run whose Map Run left objects it never started (it failed, was stopped or timed
    out): RedriveExecution (without --key-prefix, up to ${REDRIVE_WINDOW_DAYS} days): its Map Run starts them,
    and reruns nothing that succeeded (its failed objects only their Fail state: they are restarted as
    above). Not redriven, saying why, when it would resume an aborted or timed-out object past the
    launch gate, or when its failed objects alone are past its tolerated failures: start a new backfill
    for the objects it never started.
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
 * The failures, with each redrivable backfill run whose Map Runs left objects they never started.
 * Its redrive starts them (each through the launch gate, as any new child) and reruns only the Fail
 * state of its failed objects (restarted as ever), so it is redriven; unless it would also resume an
 * aborted or timed-out object in place, past the launch gate whose slot the cleanup released (those
 * are restarted too, and the objects never started need a new backfill), or its failed objects alone
 * are past its tolerance (its redriven Map Run would fail again at once): then it is listed as not
 * redriven, saying why. `notes`: what each redriven run's redrive does, by its ARN.
 */
async function withMapRunRedrives(
  sfn: SFNClient,
  listed: readonly FailedExecution[],
): Promise<{ failures: FailedExecution[]; notes: Map<string, string> }> {
  const notes = new Map<string, string>();
  const failures = [...listed];
  const runs = new Set(
    listed
      .filter((failure) => failure.backfillRun?.redriveStatus === 'REDRIVABLE')
      .map((failure) => failure.backfillRun!.executionArn),
  );
  for (const runArn of runs) {
    const work = await mapRunWork(sfn, runArn);
    if (work.unstarted === 0) continue;
    const run = await describeFailure(sfn, runArn, 'backfill');
    const left = `its Map Run left ${work.unstarted} objects unstarted`;
    const why =
      work.inPlace > 0
        ? `${left}, and would resume ${work.inPlace} aborted or timed-out objects past the launch gate`
        : work.pastTolerance
          ? `${left}, and its failed objects alone are past its tolerated failures: it would fail again`
          : undefined;
    if (why) failures.push({ ...run, redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: why });
    else {
      failures.push(run);
      notes.set(runArn, `its Map Run starts the ${work.unstarted} objects it never started`);
    }
  }
  return { failures: failures.sort((a, b) => a.stopDate.getTime() - b.stopDate.getTime()), notes };
}

/** What redriving the run would do in its Map Runs, from DescribeMapRun. */
async function mapRunWork(
  sfn: SFNClient,
  executionArn: string,
): Promise<{ unstarted: number; inPlace: number; pastTolerance: boolean }> {
  const work = { unstarted: 0, inPlace: 0, pastTolerance: false };
  for await (const page of paginateListMapRuns({ client: sfn }, { executionArn })) {
    for (const { mapRunArn } of page.mapRuns ?? []) {
      const run = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
      const executions = run.executionCounts;
      const failed = executions?.failed ?? 0;
      const total = run.itemCounts?.total ?? 0;
      const percentage = run.toleratedFailurePercentage ?? 0;
      const count = run.toleratedFailureCount ?? 0;
      work.pastTolerance ||=
        (percentage > 0 && failed * 100 > percentage * total) ||
        (count > 0 && failed > count) ||
        (percentage === 0 && count === 0 && failed > 0);
      work.inPlace += (executions?.aborted ?? 0) + (executions?.timedOut ?? 0);
      work.unstarted += run.itemCounts?.pending ?? 0;
    }
  }
  return work;
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
