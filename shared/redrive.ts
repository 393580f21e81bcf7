import { createHash } from 'node:crypto';

import { type FailedExecution, objectKeyOf } from './failed-executions';

/**
 * Which failed executions to redrive and how, and the loop that does it: shared by
 * `npm run redrive` (RedriveExecution / StartExecution) and `npm start -- --redrive` (the local
 * journal), so the loop tested locally is the one that runs against AWS.
 *
 * An execution RedriveExecution accepts is redriven: it resumes at the failed state, same ARN, and
 * leaves the failed list. Any other (past the 14-day window, a backfill child whose run succeeded, …)
 * gets a new execution of the event-driven workflow with the same input, under a name derived from
 * the failed execution's ARN. Step Functions refuses a second execution of that name, so a second
 * run can never start the object again; and a failure whose new execution exists is no longer listed.
 */

/** A new execution with the same input, under a name that makes a second start impossible. */
export interface RestartStep {
  readonly kind: 'restart';
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly why: string;
}

export type RedriveStep =
  | {
      /**
       * `redrive`: RedriveExecution on the failed execution itself. `redrive-backfill`: on its
       * backfill run, whose Map Run then redrives the failed children (this one too).
       */
      readonly kind: 'redrive' | 'redrive-backfill';
      readonly executionArn: string;
      /** If RedriveExecution refuses after all (e.g. the window closed since it was described). */
      readonly fallback?: RestartStep;
    }
  | RestartStep
  | { readonly kind: 'cannot'; readonly why: string };

export interface PlannedRedrive {
  readonly failure: FailedExecution;
  readonly key: string;
  readonly step: RedriveStep;
}

export interface PlanOptions {
  /** The event-driven state machine: where restarted objects run (backfill children included). */
  readonly workflowArn: string;
  /** Only objects under this key prefix. @default '' - all */
  readonly keyPrefix?: string;
}

/** Execution names allow 80 characters of [A-Za-z0-9-_]. */
const NAME_LIMIT = 80;

/**
 * The new execution's name for a failed one: a hash of the failed execution's ARN (unique per
 * failure, across state machines) and, for a reader, the start of its name.
 */
export function restartExecutionName(failedExecutionArn: string, failedName: string): string {
  const hash = createHash('sha256').update(failedExecutionArn).digest('hex').slice(0, 16);
  return `redrive-${hash}-${failedName.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, NAME_LIMIT);
}

/** An execution's ARN from its state machine's ARN and its name, as Step Functions forms it. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** Where a failure's new execution would run, if it is not redriven in place. */
export function restartTarget(
  failure: FailedExecution,
  workflowArn: string,
): { stateMachineArn: string; name: string; executionArn: string } {
  // A backfill child runs its object alone in the event-driven workflow: the same per-object step.
  const stateMachineArn = failure.backfillRun ? workflowArn : failure.stateMachineArn;
  const name = restartExecutionName(failure.executionArn, failure.name);
  return { stateMachineArn, name, executionArn: executionArnOf(stateMachineArn, name) };
}

/**
 * The failures still open: those whose new execution (a redrive's restart) does not exist. That
 * execution now stands for the object, and is listed itself if it failed too.
 */
export async function withoutRestarted(
  failures: readonly FailedExecution[],
  workflowArn: string,
  exists: (executionArn: string) => Promise<boolean>,
): Promise<FailedExecution[]> {
  const open: FailedExecution[] = [];
  for (const failure of failures) {
    const restarted =
      failure.kind === 'object' && (await exists(restartTarget(failure, workflowArn).executionArn));
    if (!restarted) open.push(failure);
  }
  return open;
}

export function planRedrives(failures: readonly FailedExecution[], options: PlanOptions): PlannedRedrive[] {
  const keyPrefix = options.keyPrefix ?? '';
  const inScope = (failure: FailedExecution) => objectKeyOf(failure).startsWith(keyPrefix);
  return failures.filter(inScope).map((failure) => ({
    failure,
    key: objectKeyOf(failure),
    step: stepFor(failure, failures, inScope, options.workflowArn),
  }));
}

function stepFor(
  failure: FailedExecution,
  all: readonly FailedExecution[],
  inScope: (failure: FailedExecution) => boolean,
  workflowArn: string,
): RedriveStep {
  const restart = (why: string): RestartStep => {
    const { stateMachineArn, name } = restartTarget(failure, workflowArn);
    return { kind: 'restart', stateMachineArn, name, input: failure.input, why };
  };
  const refused = restart('RedriveExecution refused it');
  const run = failure.backfillRun;
  if (run) {
    if (run.status === 'RUNNING') {
      return {
        kind: 'cannot',
        why: `its backfill run ${run.executionArn} is still running: redrive after it ends`,
      };
    }
    if (run.redriveStatus !== 'REDRIVABLE') {
      return restart(`its backfill run cannot be redriven (${run.redriveStatusReason ?? run.status})`);
    }
    // Redriving the run reruns all its failed children; restarting this one alone instead would
    // let a later redrive of the run process it a second time.
    const outOfScope = all.filter((f) => f.backfillRun?.executionArn === run.executionArn && !inScope(f));
    if (outOfScope.length > 0) {
      return {
        kind: 'cannot',
        why:
          `its backfill run also failed ${outOfScope.length} object(s) outside --key-prefix, which redriving ` +
          'the run would process too: redrive without --key-prefix',
      };
    }
    return { kind: 'redrive-backfill', executionArn: run.executionArn, fallback: refused };
  }
  if (failure.redriveStatus === 'REDRIVABLE') {
    const fallback = failure.kind === 'object' ? refused : undefined;
    return { kind: 'redrive', executionArn: failure.executionArn, fallback };
  }
  if (failure.kind === 'backfill') {
    // A new run would list and process every object under the prefix again.
    return {
      kind: 'cannot',
      why:
        `the backfill run cannot be redriven (${failure.redriveStatusReason ?? 'not redrivable'}): ` +
        `start a new one for the objects it did not process (npm run backfill)`,
    };
  }
  return restart(failure.redriveStatusReason ?? 'not redrivable');
}

export interface RedriveClient {
  /** RedriveExecution; throws an error named `ExecutionNotRedrivable` when Step Functions refuses. */
  redrive(executionArn: string): Promise<void>;
  /** StartExecution; `existed` when an execution of that name had been started before. */
  start(
    stateMachineArn: string,
    name: string,
    input: string,
  ): Promise<{ executionArn: string; existed: boolean }>;
}

export type RedriveAction =
  | 'redriven'
  | 'redriven with its backfill run'
  | 'restarted'
  | 'already restarted'
  | 'would redrive'
  | 'would redrive its backfill run'
  | 'would restart'
  | 'not redriven';

export interface RedriveOutcome {
  readonly key: string;
  readonly failedExecutionArn: string;
  readonly action: RedriveAction;
  /** The execution that now processes the object (the same ARN when redriven). */
  readonly executionArn?: string;
  readonly detail?: string;
}

export interface RedriveReport {
  readonly outcomes: readonly RedriveOutcome[];
  /** How many could not be redriven: the command exits non-zero when there are any. */
  readonly notRedriven: number;
}

export async function redriveFailures(
  plan: readonly PlannedRedrive[],
  client: RedriveClient,
  options: { readonly dryRun?: boolean; readonly onOutcome?: (outcome: RedriveOutcome) => void } = {},
): Promise<RedriveReport> {
  // One RedriveExecution per backfill run, however many of its children failed.
  const runRedrives = new Map<string, Promise<unknown>>();
  const outcomes: RedriveOutcome[] = [];
  for (const planned of plan) {
    const outcome = await carryOut(planned, client, options.dryRun ?? false, runRedrives);
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return { outcomes, notRedriven: outcomes.filter((o) => o.action === 'not redriven').length };
}

async function carryOut(
  { failure, key, step }: PlannedRedrive,
  client: RedriveClient,
  dryRun: boolean,
  runRedrives: Map<string, Promise<unknown>>,
): Promise<RedriveOutcome> {
  const base = { key, failedExecutionArn: failure.executionArn };
  const restart = async (s: RestartStep): Promise<RedriveOutcome> => {
    const executionArn = executionArnOf(s.stateMachineArn, s.name);
    if (dryRun) return { ...base, action: 'would restart', executionArn, detail: s.why };
    const started = await client.start(s.stateMachineArn, s.name, s.input);
    return {
      ...base,
      action: started.existed ? 'already restarted' : 'restarted',
      executionArn: started.executionArn,
      detail: s.why,
    };
  };
  try {
    switch (step.kind) {
      case 'cannot':
        return { ...base, action: 'not redriven', detail: step.why };
      case 'restart':
        return await restart(step);
      case 'redrive':
      case 'redrive-backfill': {
        const inRun = step.kind === 'redrive-backfill';
        if (dryRun) {
          const action = inRun ? 'would redrive its backfill run' : 'would redrive';
          return { ...base, action, executionArn: step.executionArn };
        }
        try {
          let redriven = runRedrives.get(step.executionArn);
          if (!redriven) {
            redriven = client.redrive(step.executionArn);
            runRedrives.set(step.executionArn, redriven);
          }
          await redriven;
          const action = inRun ? 'redriven with its backfill run' : 'redriven';
          return { ...base, action, executionArn: step.executionArn };
        } catch (error) {
          if ((error as Error).name !== 'ExecutionNotRedrivable' || !step.fallback) throw error;
          return await restart({
            ...step.fallback,
            why: `RedriveExecution refused: ${(error as Error).message}`,
          });
        }
      }
    }
  } catch (error) {
    return {
      ...base,
      action: 'not redriven',
      detail: `${(error as Error).name}: ${(error as Error).message}`,
    };
  }
}

/** e.g. `redriven           incoming/a.csv  arn:…` */
export function redriveLine(outcome: RedriveOutcome): string {
  const detail = outcome.detail ? `  (${outcome.detail})` : '';
  const target =
    outcome.executionArn && outcome.executionArn !== outcome.failedExecutionArn
      ? `  ${outcome.failedExecutionArn} -> ${outcome.executionArn}`
      : `  ${outcome.failedExecutionArn}`;
  return `${outcome.action.padEnd(30)}  ${outcome.key}${target}${detail}`;
}

/** e.g. `4 executions: 2 redriven, 1 restarted, 1 not redriven` */
export function redriveSummary(report: RedriveReport): string {
  const counts = new Map<string, number>();
  for (const o of report.outcomes) counts.set(o.action, (counts.get(o.action) ?? 0) + 1);
  const parts = [...counts].map(([action, n]) => `${n} ${action}`);
  const noun = report.outcomes.length === 1 ? 'execution' : 'executions';
  return `${report.outcomes.length} failed ${noun}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}
