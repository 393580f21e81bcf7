import { createHash } from 'node:crypto';

import { type FailedExecution, objectKeyOf } from './failed-executions';

/**
 * Which failed executions to run again and how, and the loop that does it: shared by
 * `npm run redrive` (RedriveExecution / StartExecution) and `npm start -- --redrive` (the local
 * journal), so the loop tested locally is the one that runs against AWS.
 *
 * An object's failed execution (event-driven, or a backfill's child) is restarted, never redriven:
 * RedriveExecution resumes at the unsuccessful state, which after a caught task failure is the `Fail`
 * state, and after a stop lies past the launch gate whose slot the cleanup released. The new
 * execution of the event-driven workflow has the same input and a name derived from the failed
 * execution's ARN, which Step Functions refuses a second time, so a second run never starts the
 * object again. A backfill run that failed by itself is redriven: it resumes its Map, which lists again.
 */

/** A new execution with the same input, under a name that makes a second start impossible. */
export interface RestartStep {
  readonly kind: 'restart';
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
}

export type RedriveStep =
  /** RedriveExecution on a backfill run that failed by itself. */
  | { readonly kind: 'redrive'; readonly executionArn: string }
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

/** Where an object's failed execution is restarted. */
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
  return failures
    .filter((failure) => objectKeyOf(failure).startsWith(keyPrefix))
    .map((failure) => ({ failure, key: objectKeyOf(failure), step: stepFor(failure, options.workflowArn) }));
}

function stepFor(failure: FailedExecution, workflowArn: string): RedriveStep {
  if (failure.kind === 'object') {
    // Whatever its backfill run does: a failed child is final, its Map Run does not retry it.
    const { stateMachineArn, name } = restartTarget(failure, workflowArn);
    return { kind: 'restart', stateMachineArn, name, input: failure.input };
  }
  if (failure.redriveStatus === 'REDRIVABLE') return { kind: 'redrive', executionArn: failure.executionArn };
  // A new run would list and process every object under the prefix again.
  return {
    kind: 'cannot',
    why:
      `the backfill run cannot be redriven (${failure.redriveStatusReason ?? 'not redrivable'}): ` +
      `start a new one for the objects it did not process (npm run backfill)`,
  };
}

export interface RedriveClient {
  /** RedriveExecution (of a backfill run). */
  redrive(executionArn: string): Promise<void>;
  /** StartExecution; `existed` when an execution of that name had been started before. */
  start(
    stateMachineArn: string,
    name: string,
    input: string,
  ): Promise<{ executionArn: string; existed: boolean }>;
}

export type RedriveAction =
  'restarted' | 'already restarted' | 'redriven' | 'would restart' | 'would redrive' | 'not redriven';

export interface RedriveOutcome {
  readonly key: string;
  readonly failedExecutionArn: string;
  readonly action: RedriveAction;
  /** The execution that now processes the object, or the backfill run redriven. */
  readonly executionArn?: string;
  readonly detail?: string;
}

export interface RedriveReport {
  readonly outcomes: readonly RedriveOutcome[];
  /** How many could not be restarted or redriven: the command exits non-zero when there are any. */
  readonly notRedriven: number;
}

export async function redriveFailures(
  plan: readonly PlannedRedrive[],
  client: RedriveClient,
  options: { readonly dryRun?: boolean; readonly onOutcome?: (outcome: RedriveOutcome) => void } = {},
): Promise<RedriveReport> {
  const outcomes: RedriveOutcome[] = [];
  for (const planned of plan) {
    const outcome = await carryOut(planned, client, options.dryRun ?? false);
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  }
  return { outcomes, notRedriven: outcomes.filter((o) => o.action === 'not redriven').length };
}

async function carryOut(
  { failure, key, step }: PlannedRedrive,
  client: RedriveClient,
  dryRun: boolean,
): Promise<RedriveOutcome> {
  const base = { key, failedExecutionArn: failure.executionArn };
  try {
    switch (step.kind) {
      case 'cannot':
        return { ...base, action: 'not redriven', detail: step.why };
      case 'restart': {
        const executionArn = executionArnOf(step.stateMachineArn, step.name);
        if (dryRun) return { ...base, action: 'would restart', executionArn };
        const started = await client.start(step.stateMachineArn, step.name, step.input);
        const action = started.existed ? 'already restarted' : 'restarted';
        return { ...base, action, executionArn: started.executionArn };
      }
      case 'redrive':
        if (!dryRun) await client.redrive(step.executionArn);
        return { ...base, action: dryRun ? 'would redrive' : 'redriven', executionArn: step.executionArn };
    }
  } catch (error) {
    return {
      ...base,
      action: 'not redriven',
      detail: `${(error as Error).name}: ${(error as Error).message}`,
    };
  }
}

/** e.g. `restarted          incoming/a.csv  arn:… -> arn:…` */
export function redriveLine(outcome: RedriveOutcome): string {
  const detail = outcome.detail ? `  (${outcome.detail})` : '';
  const target =
    outcome.executionArn && outcome.executionArn !== outcome.failedExecutionArn
      ? `  ${outcome.failedExecutionArn} -> ${outcome.executionArn}`
      : `  ${outcome.failedExecutionArn}`;
  return `${outcome.action.padEnd(17)}  ${outcome.key}${target}${detail}`;
}

/** e.g. `4 failed executions: 3 restarted, 1 not redriven` */
export function redriveSummary(report: RedriveReport): string {
  const counts = new Map<string, number>();
  for (const o of report.outcomes) counts.set(o.action, (counts.get(o.action) ?? 0) + 1);
  const parts = [...counts].map(([action, n]) => `${n} ${action}`);
  const noun = report.outcomes.length === 1 ? 'execution' : 'executions';
  return `${report.outcomes.length} failed ${noun}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}
