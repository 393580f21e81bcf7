import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionDoesNotExist,
  paginateListExecutions,
  paginateListMapRuns,
  SFNClient,
  type SFNClientConfig,
} from '@aws-sdk/client-sfn';

import { FAILED_STATUSES, type FailedExecution, type FailedStatus } from '../failed-executions';
import { withoutRestarted } from '../redrive';
import { UsageError } from './command';

/**
 * Reads the failed executions of both workflows from Step Functions: ListExecutions (paged, one
 * status at a time) and DescribeExecution for each. A backfill's failed objects are the children of
 * its Map Runs (ListMapRuns, then ListExecutions by map run).
 */

/**
 * The client every command here uses. Adaptive retry: throttled calls (ThrottlingException) are
 * retried with backoff and the client slows its own request rate, so paging through thousands of
 * executions and describing each one never fails on Step Functions' API rate limits. (`config`:
 * tests pass their own HTTP handler.)
 */
export function stepFunctionsClient(config: SFNClientConfig = {}): SFNClient {
  return new SFNClient({ retryMode: 'adaptive', maxAttempts: 10, ...config });
}

/**
 * The endpoint the client was pointed at instead of AWS's, if any: its `endpoint`, or the one the SDK
 * reads from AWS_ENDPOINT_URL(_SFN) or the config file's endpoint_url (through its own resolver, so
 * every way the SDK honours counts). The AWS console knows nothing of an execution there.
 */
export async function configuredEndpoint(sfn: SFNClient): Promise<string | undefined> {
  const { config } = sfn;
  if (config.isCustomEndpoint) return (await config.endpoint?.())?.hostname;
  if (config.ignoreConfiguredEndpointUrls) return undefined;
  return config.serviceConfiguredEndpoint?.();
}

export interface FailureQuery {
  /** The event-driven workflow (output StateMachineArn). */
  readonly workflowArn: string;
  /** The backfill workflow (output BackfillStateMachineArn). */
  readonly backfillArn: string;
  /** Executions that stopped at or after this time. */
  readonly since: Date;
}

/** Failed, timed-out and aborted executions of both workflows that stopped since `since`, oldest first. */
export async function listFailures(sfn: SFNClient, query: FailureQuery): Promise<FailedExecution[]> {
  const failures: FailedExecution[] = [];
  for (const summary of await closedSince(sfn, { stateMachineArn: query.workflowArn }, query.since)) {
    failures.push(await describeFailure(sfn, summary.executionArn, 'object'));
  }
  for (const run of await backfillRunsSince(sfn, query.backfillArn, query.since)) {
    const runDescription = await sfn.send(new DescribeExecutionCommand({ executionArn: run }));
    const backfillRun = backfillRunOf(runDescription);
    let children = 0;
    for await (const page of paginateListMapRuns({ client: sfn }, { executionArn: run })) {
      for (const mapRun of page.mapRuns ?? []) {
        for (const child of await closedSince(sfn, { mapRunArn: mapRun.mapRunArn }, query.since)) {
          failures.push({ ...(await describeFailure(sfn, child.executionArn, 'object')), backfillRun });
          children++;
        }
      }
    }
    // A run that failed by itself (e.g. its listing failed) is a failure of its own.
    if (children === 0 && (FAILED_STATUSES as readonly string[]).includes(backfillRun.status)) {
      failures.push(fromDescription(runDescription, 'backfill'));
    }
  }
  const open = await withoutRestarted(failures, query.workflowArn, (arn) => executionExists(sfn, arn));
  return open.sort((a, b) => a.stopDate.getTime() - b.stopDate.getTime());
}

/** A backfill run as a failed child of it reports it. */
export function backfillRunOf(
  run: DescribeExecutionCommandOutput,
): NonNullable<FailedExecution['backfillRun']> {
  return {
    executionArn: run.executionArn ?? '',
    status: run.status ?? 'RUNNING',
    redriveStatus: run.redriveStatus ?? 'NOT_REDRIVABLE',
    redriveStatusReason: run.redriveStatusReason,
  };
}

interface ExecutionSummary {
  readonly executionArn: string;
  readonly stopDate: Date;
}

/**
 * The failed executions (every failed status) of a state machine or a map run that stopped since
 * `since`. ListExecutions sorts by start time, and one started long ago may have stopped (or
 * failed again after a redrive) recently, so every page is read.
 */
export async function closedSince(
  sfn: SFNClient,
  of: { stateMachineArn?: string; mapRunArn?: string },
  since: Date,
): Promise<ExecutionSummary[]> {
  const found: ExecutionSummary[] = [];
  for (const statusFilter of FAILED_STATUSES) {
    for await (const page of paginateListExecutions(
      { client: sfn, pageSize: 1000 },
      { ...of, statusFilter },
    )) {
      for (const execution of page.executions ?? []) {
        if (execution.executionArn && execution.stopDate && execution.stopDate >= since) {
          found.push({ executionArn: execution.executionArn, stopDate: execution.stopDate });
        }
      }
    }
  }
  return found;
}

/** Backfill runs that may hold failed objects of the window: running, or stopped since `since`. */
async function backfillRunsSince(sfn: SFNClient, backfillArn: string, since: Date): Promise<string[]> {
  const runs: string[] = [];
  for await (const page of paginateListExecutions(
    { client: sfn, pageSize: 1000 },
    { stateMachineArn: backfillArn },
  )) {
    for (const execution of page.executions ?? []) {
      const inWindow = execution.status === 'RUNNING' || (execution.stopDate && execution.stopDate >= since);
      if (execution.executionArn && inWindow) runs.push(execution.executionArn);
    }
  }
  return runs;
}

export async function describeFailure(
  sfn: SFNClient,
  executionArn: string,
  kind: FailedExecution['kind'],
): Promise<FailedExecution> {
  return fromDescription(await sfn.send(new DescribeExecutionCommand({ executionArn })), kind);
}

export function fromDescription(
  d: DescribeExecutionCommandOutput,
  kind: FailedExecution['kind'],
): FailedExecution {
  return {
    executionArn: d.executionArn ?? '',
    name: d.name ?? '',
    stateMachineArn: d.stateMachineArn ?? '',
    kind,
    status: d.status as FailedStatus,
    startDate: d.startDate ?? new Date(0),
    stopDate: d.stopDate ?? d.startDate ?? new Date(0),
    input: d.input ?? '{}',
    error: d.error,
    cause: d.cause,
    redriveStatus: d.redriveStatus ?? 'NOT_REDRIVABLE',
    redriveStatusReason: d.redriveStatusReason,
  };
}

/** Whether an execution exists (DescribeExecution succeeds). */
async function executionExists(sfn: SFNClient, executionArn: string): Promise<boolean> {
  try {
    await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return true;
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return false;
    throw error;
  }
}

/** `--since`: a duration back from now (`90m`, `24h`, `7d`) or an ISO 8601 date. */
export function parseSince(raw: string, now: Date = new Date()): Date {
  const duration = /^(\d+)([mhd])$/.exec(raw);
  if (duration) {
    const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(duration[1]) * unitMs);
  }
  const date = /^\d{4}-\d{2}-\d{2}/.test(raw) ? new Date(raw) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(
      `--since "${raw}" is not a duration or a date: use e.g. 90m, 24h, 7d or 2026-11-30T12:00:00Z`,
    );
  }
  return date;
}
