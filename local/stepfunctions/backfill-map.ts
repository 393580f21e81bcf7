import { backfillPrefix } from '../../shared/backfill-prefix';
import { TemplateError } from '../cloudformation/template';
import type { BackfillStateMachine } from './definitions';
import type { ExecutionRecord, LocalStepFunctions } from './executions';

/**
 * The local backfill: an execution of the template's backfill state machine with `{ prefix }`, run
 * by the engine like any other (its Distributed Map lists the bucket through its ItemReader and runs
 * one child execution per object), summarised from its Map Run for the CLI.
 */

export interface BackfillOptions {
  /** Under the input prefix, as `npm run backfill -- <sub-prefix>` takes it. @default '' */
  readonly subPrefix?: string;
}

/** What the backfill runs against. */
export interface BackfillTarget {
  /** The backfill state machine of the template, if it has one. */
  readonly backfill?: BackfillStateMachine;
  /** The rule's key prefix: the backfill lists under it. */
  readonly inputPrefix: string;
  readonly stepFunctions: LocalStepFunctions;
}

export interface BackfillResult {
  /** The listing prefix. */
  readonly prefix: string;
  readonly status: string;
  /** Objects listed. */
  readonly items: number;
  /** Items whose execution failed or timed out. */
  readonly failed: number;
  /** Items whose execution was stopped when the run failed (Step Functions stops a failed Map Run's children). */
  readonly aborted: number;
  /** Items not started because the run had already failed (Step Functions stops a failed Map Run). */
  readonly notStarted: number;
  readonly toleratedFailurePercentage?: number;
  readonly toleratedFailureCount?: number;
  readonly maxConcurrency: number;
  /** The backfill execution itself. */
  readonly execution: ExecutionRecord;
  /** One per item started, in start order. */
  readonly executions: readonly ExecutionRecord[];
}

export async function runBackfill(
  target: BackfillTarget,
  options: BackfillOptions = {},
): Promise<BackfillResult> {
  const { backfill } = target;
  if (!backfill) {
    throw new TemplateError(
      'The template has no state machine with a Map state whose ItemReader is s3:listObjectsV2; ' +
        'the local backfill runs that Map: check lib/backfill.ts',
    );
  }
  const prefix = backfillPrefix(target.inputPrefix, options.subPrefix);
  const execution = target.stepFunctions.startExecution(backfill, { prefix });
  await target.stepFunctions.finished(execution);
  const mapRun = [...target.stepFunctions.mapRuns.values()].find(
    (run) => run.executionArn === execution.executionArn,
  );
  const children = mapRun?.children ?? [];
  const { map } = backfill;
  return {
    prefix,
    status: execution.status,
    items: mapRun?.items ?? 0,
    failed: children.filter((child) => child.status === 'FAILED' || child.status === 'TIMED_OUT').length,
    aborted: children.filter((child) => child.status === 'ABORTED').length,
    notStarted: mapRun?.unstarted.size ?? 0,
    toleratedFailurePercentage:
      typeof map.ToleratedFailurePercentage === 'number' ? map.ToleratedFailurePercentage : undefined,
    toleratedFailureCount:
      typeof map.ToleratedFailureCount === 'number' ? map.ToleratedFailureCount : undefined,
    maxConcurrency: mapRun?.maxConcurrency ?? 0,
    execution,
    executions: children,
  };
}
