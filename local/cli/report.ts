import type { InjectedFaults } from '../faults/gate-faults';
import type { ExecutionRecord, LaunchGateState, LocalPipeline, UndeliveredEvent } from '../pipeline';
import type { BackfillResult } from '../stepfunctions/backfill-map';

/** How the CLI shows executions: one line each, and the `--json` summary document. */

export interface ExecutionSummary {
  readonly key: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly error: string | null;
  readonly cause: string | null;
  readonly durationMs: number;
  /** RunTask calls made for it, retries (refused launches) included. */
  readonly launchAttempts: number;
  /** The result object's JSON content, or null when the worker wrote none. */
  readonly result: unknown;
}

export interface RunSummary {
  /** The most tasks that ran at once: at most what the Fargate vCPU quotas allow. */
  readonly peakRunningTasks: number;
  readonly executions: ExecutionSummary[];
  /** The launch gate at rest (see LocalPipeline.gateAtRest): both 0 unless a slot or a waiter is lost. */
  readonly gate?: LaunchGateState;
  /** How many --gate-fault faults struck, per kind; only when some were asked for. */
  readonly gateFaults?: InjectedFaults;
}

/**
 * The run's executions and, once they have ended, the gate at rest; the object records are given
 * their rest too (the records' sweep closes those whose ending the recorder missed), so the
 * objects read after this are as AWS would have them some minutes later.
 */
export async function summarize(pipeline: LocalPipeline): Promise<RunSummary> {
  const gate = await pipeline.gateAtRest();
  await pipeline.recordsAtRest();
  const executions = await Promise.all(
    pipeline.executions().map(async (record) => ({
      key: record.key,
      status: record.status === 'SUCCEEDED' ? ('SUCCEEDED' as const) : ('FAILED' as const),
      error: record.error ?? null,
      cause: record.cause ?? null,
      durationMs: record.durationMs ?? 0,
      launchAttempts: record.attempts.length,
      result: await pipeline.readResult(record),
    })),
  );
  const gateFaults = pipeline.gateFaultsInjected();
  return {
    peakRunningTasks: pipeline.peakRunningTasks(),
    executions,
    ...(gate && { gate }),
    ...(gateFaults && { gateFaults }),
  };
}

/**
 * e.g. `launch gate at rest: 0 holders, 0 waiters (faults injected: 2 lost-after, 1 duplicate)`;
 * anything left is named as lost.
 */
export function gateLine(summary: RunSummary): string | undefined {
  const { gate, gateFaults } = summary;
  if (!gate) return undefined;
  const struck = Object.entries(gateFaults ?? {})
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind}`);
  const faults = gateFaults ? ` (faults injected: ${struck.join(', ') || 'none struck'})` : '';
  const lost =
    gate.holders + gate.waiters > 0
      ? ': lost, the reconciler did not repair them; see docs/launch-gate.md "What the gate survives"'
      : '';
  return `launch gate at rest: ${counted(gate.holders, 'holder')}, ${counted(gate.waiters, 'waiter')}${lost}${faults}`;
}

/** e.g. `DEAD-LETTER  incoming/a.csv  THROTTLING after 185 retries -> .local/dead-letters/17...json` */
export function undeliveredLine(undelivered: UndeliveredEvent, showPath: (file: string) => string): string {
  const { ERROR_CODE, RETRY_ATTEMPTS, ERROR_MESSAGE } = undelivered.attributes;
  const detail = (undelivered.event as { detail?: { object?: { key?: unknown } } } | undefined)?.detail;
  const where = undelivered.file
    ? `-> ${showPath(undelivered.file)}`
    : 'dropped (the target has no dead-letter queue)';
  const retries =
    RETRY_ATTEMPTS === '0' ? `not retried: ${ERROR_MESSAGE}` : `after ${RETRY_ATTEMPTS} retries`;
  return `${'DEAD-LETTER'.padEnd(9)}  ${String(detail?.object?.key ?? '(no key)')}  ${ERROR_CODE} ${retries}  ${where}`;
}

/** e.g. `backfill of "incoming/": SUCCEEDED, 50 items, 1 failed (tolerated: more than 10%)` */
export function backfillLine(result: BackfillResult): string {
  const tolerated = [
    result.toleratedFailurePercentage === undefined ? '' : `more than ${result.toleratedFailurePercentage}%`,
    result.toleratedFailureCount === undefined ? '' : `more than ${result.toleratedFailureCount} items`,
  ].filter((part) => part !== '');
  const aborted = result.aborted > 0 ? `, ${result.aborted} stopped as the run failed` : '';
  const notStarted = result.notStarted > 0 ? `, ${result.notStarted} not started` : '';
  return (
    `backfill of "${result.prefix}": ${result.status}, ${result.items} items, ${result.failed} failed${aborted}${notStarted} ` +
    `(fails the run: ${tolerated.join(' or ') || 'any failure'}; at most ${result.maxConcurrency} at once)`
  );
}

/**
 * e.g. `SUCCEEDED  incoming/a.csv  412 ms  -> processed/incoming/a.csv.json (after 3 retries)`, or
 * `DUPLICATE  incoming/a.csv  3 ms  held by arn:…`
 */
export function executionLine(record: ExecutionRecord): string {
  // A duplicate event's execution found the object held (lib/object-records.ts names the holder).
  const { duplicateOf } = (record.output ?? {}) as { duplicateOf?: unknown };
  if (record.status === 'SUCCEEDED' && typeof duplicateOf === 'string') {
    return `${'DUPLICATE'.padEnd(9)}  ${record.key}  ${record.durationMs ?? 0} ms  held by ${duplicateOf}`;
  }
  const last = record.attempts.at(-1);
  const outcome =
    record.status === 'SUCCEEDED'
      ? record.result
        ? `-> ${record.result.key}`
        : `no result (worker outcome: ${String(last?.summary?.outcome ?? 'unknown')})`
      : `${record.error}: ${failureReason(record)}`;
  const path = attemptPath(record);
  return `${record.status.padEnd(9)}  ${record.key}  ${record.durationMs ?? 0} ms  ${outcome}${path ? ` (${path})` : ''}`;
}

/** `1 execution`, `2 executions`: a count with its noun. */
export function counted(count: number, noun: string): string {
  return `${count} ${count === 1 ? noun : `${noun}s`}`;
}

/** What went wrong in words: the worker's exit code and stop code, or the launch error. */
function failureReason(record: ExecutionRecord): string {
  const last = record.attempts.at(-1);
  if (last?.taskArn) {
    const worker = last.summary?.message ? `; worker: ${String(last.summary.message)}` : '';
    // 127 is the shell's "command not found": the container's command, not the worker, failed.
    const notFound = last.exitCode === 127 ? ' (the shell found no such command: check --task-command)' : '';
    return `task stopped (${last.stopCode}), exit code ${last.exitCode}${notFound}${worker}`;
  }
  return last?.error ? `task did not start (${last.error})` : (record.cause ?? '');
}

/** Which states ran the attempts, when it was not simply the first state once, after any wait in line. */
export function attemptPath(record: ExecutionRecord): string {
  const parts: string[] = record.tokenWaits.map((w) => `waited ${w.waitedMs} ms in ${w.stateName}`);
  let previous: ExecutionRecord['attempts'][number] | undefined;
  let retries = 0;
  const flushRetries = () => {
    if (retries > 0)
      parts.push(`after ${retries} ${retries === 1 ? 'retry' : 'retries'} of ${previous?.stateName}`);
    retries = 0;
  };
  for (const attempt of record.attempts) {
    if (previous && attempt.stateName === previous.stateName) {
      retries++;
    } else if (previous) {
      flushRetries();
      const fellBack = previous.onSpot && !attempt.onSpot;
      parts.push(fellBack ? `fell back to on-demand in ${attempt.stateName}` : `then ${attempt.stateName}`);
    }
    previous = attempt;
  }
  flushRetries();
  return parts.join(', ');
}
