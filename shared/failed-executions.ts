/**
 * Executions that started and did not succeed, as `npm run failures` (Step Functions) and
 * `npm start -- --failures` (the local journal) both show them: one model, one line format, one
 * JSON shape. Free of SDK imports, so the local CLI loads no AWS clients for it.
 */

export const FAILED_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type FailedStatus = (typeof FAILED_STATUSES)[number];

/** DescribeExecution's `redriveStatus`: whether RedriveExecution would accept the execution now. */
export type RedriveStatus = 'REDRIVABLE' | 'NOT_REDRIVABLE' | 'REDRIVABLE_BY_MAP_RUN';

/** Step Functions keeps a failed Standard execution redrivable for this long after it stopped. */
export const REDRIVE_WINDOW_DAYS = 14;

export interface FailedExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  /**
   * `object`: one object's execution (the event-driven workflow, or a backfill's per-object child).
   * `backfill`: a backfill run that failed by itself (e.g. its listing failed), with no failed child.
   */
  readonly kind: 'object' | 'backfill';
  readonly status: FailedStatus;
  readonly startDate: Date;
  readonly stopDate: Date;
  /** The execution input, JSON text. */
  readonly input: string;
  readonly error?: string;
  readonly cause?: string;
  readonly redriveStatus: RedriveStatus;
  readonly redriveStatusReason?: string;
  /** For a backfill's per-object child execution: the backfill run whose Map Run started it. */
  readonly backfillRun?: {
    readonly executionArn: string;
    /** RUNNING, or how it ended. */
    readonly status: string;
    readonly redriveStatus: RedriveStatus;
    readonly redriveStatusReason?: string;
  };
}

/** What `--failures --json` and `npm run failures -- --json` print for each execution. */
export interface FailureReport {
  /** The object's key; for a backfill run that failed by itself, the prefix it lists. */
  readonly key: string;
  readonly kind: FailedExecution['kind'];
  readonly status: FailedStatus;
  readonly error: string;
  /** One line: exit code, stop code and stopped reason, or the first line of the cause. */
  readonly cause: string;
  /** The cause as Step Functions recorded it. */
  readonly fullCause: string;
  readonly executionName: string;
  readonly executionArn: string;
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly redriveStatus: RedriveStatus;
  readonly backfillRunArn: string | null;
  /** The execution in the Step Functions console (null locally). */
  readonly consoleUrl: string | null;
}

/** The object an execution was for (its input's `key`), or the prefix a failed backfill run lists. */
export function objectKeyOf(failure: Pick<FailedExecution, 'input' | 'kind'>): string {
  const input = parseInput(failure.input);
  const value = failure.kind === 'backfill' ? input.prefix : input.key;
  return typeof value === 'string' ? value : '';
}

export function parseInput(input: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(input);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The cause in one line. The Fail state's cause is `Processing s3://bucket/key failed: ` plus the
 * original cause, which for a worker that ran is the ECS task description (JSON).
 */
export function causeLine(failure: Pick<FailedExecution, 'input' | 'cause' | 'status'>): string {
  const input = parseInput(failure.input);
  const prefix = `Processing s3://${String(input.bucket)}/${String(input.key)} failed: `;
  const cause = (failure.cause ?? '').startsWith(prefix)
    ? (failure.cause ?? '').slice(prefix.length)
    : (failure.cause ?? '');
  const task = parseTaskDescription(cause);
  if (task) {
    const exitCodes = (task.Containers ?? []).map((c) => c.ExitCode).filter((c) => c !== undefined);
    return [
      exitCodes.length > 0 ? `exit code ${exitCodes.join(', ')}` : 'no exit code',
      task.StopCode && `stop code ${task.StopCode}`,
      task.StoppedReason && `stopped reason "${task.StoppedReason}"`,
    ]
      .filter(Boolean)
      .join(', ');
  }
  const firstLine = cause.split('\n')[0].trim();
  if (firstLine === '') return failure.status === 'ABORTED' ? 'aborted (StopExecution)' : '(no cause)';
  return firstLine.length > 200 ? `${firstLine.slice(0, 199)}…` : firstLine;
}

interface TaskDescription {
  readonly StopCode?: string;
  readonly StoppedReason?: string;
  readonly Containers?: ReadonlyArray<{ readonly ExitCode?: number }>;
}

function parseTaskDescription(cause: string): TaskDescription | undefined {
  if (!cause.startsWith('{')) return undefined;
  try {
    const task = JSON.parse(cause) as TaskDescription;
    return task.StopCode !== undefined || Array.isArray(task.Containers) ? task : undefined;
  } catch {
    return undefined;
  }
}

/** The execution's page in the Step Functions console, in the partition and region of its ARN. */
export function consoleUrl(executionArn: string): string {
  const [, partition, , region] = executionArn.split(':');
  const host =
    partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : 'console.aws.amazon.com';
  return `https://${region}.${host}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

export function failureReport(failure: FailedExecution, options: { console: boolean }): FailureReport {
  return {
    key: objectKeyOf(failure),
    kind: failure.kind,
    status: failure.status,
    error: failure.error || failure.status, // an aborted execution has no error
    cause: causeLine(failure),
    fullCause: failure.cause ?? '',
    executionName: failure.name,
    executionArn: failure.executionArn,
    startedAt: failure.startDate.toISOString(),
    stoppedAt: failure.stopDate.toISOString(),
    redriveStatus: failure.redriveStatus,
    backfillRunArn: failure.backfillRun?.executionArn ?? null,
    consoleUrl: options.console ? consoleUrl(failure.executionArn) : null,
  };
}

/** e.g. `2026-12-01T08:00:00.000Z  incoming/a.csv  States.TaskFailed  exit code 1, …  arn:…  https://…` */
export function failureLine(report: FailureReport): string {
  const what = report.kind === 'backfill' ? `backfill run of "${report.key}"` : report.key;
  return [report.stoppedAt, what, report.error, report.cause, report.executionArn, report.consoleUrl]
    .filter((part) => part !== null)
    .join('  ');
}

/** e.g. `3 failed executions: 2 States.TaskFailed, 1 States.Timeout` (most frequent first). */
export function countsLine(reports: readonly FailureReport[]): string {
  const counts = errorCounts(reports);
  const noun = reports.length === 1 ? 'failed execution' : 'failed executions';
  const parts = Object.entries(counts).map(([error, n]) => `${n} ${error}`);
  return `${reports.length} ${noun}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

export function errorCounts(reports: readonly FailureReport[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const report of reports) counts.set(report.error, (counts.get(report.error) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}
