import { randomUUID } from 'node:crypto';

/**
 * The "Step Functions Execution Status Change" event Step Functions puts on the default event bus
 * when an execution starts (RUNNING) and when it ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED), in
 * AWS's shape: dates in epoch milliseconds, `output`/`error`/`cause` null when absent.
 */

export interface StatusChangeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'Step Functions Execution Status Change';
  readonly source: 'aws.states';
  readonly account: string;
  /** ISO 8601 without fractions, as EventBridge writes it. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly executionArn: string;
    readonly stateMachineArn: string;
    readonly name: string;
    readonly status: string;
    readonly startDate: number;
    readonly stopDate: number | null;
    readonly input: string;
    readonly output: string | null;
    readonly inputDetails: { readonly included: true };
    readonly outputDetails: { readonly included: true } | null;
    readonly error: string | null;
    readonly cause: string | null;
    readonly redriveCount: number;
    readonly redriveDate: number | null;
    readonly redriveStatus: string;
    readonly redriveStatusReason?: string;
  };
}

export interface StatusChange {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: string;
  /** Epoch ms. */
  readonly startDate: number;
  readonly stopDate?: number;
  /** JSON text. */
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly redriveCount: number;
  readonly redriveDate?: number;
  readonly redriveStatus: string;
  readonly redriveStatusReason?: string;
}

export function statusChangeEvent(change: StatusChange, now: number): StatusChangeEvent {
  const [, partitionRegion, account] = /^arn:[^:]+:states:([^:]*):([^:]*):/.exec(change.executionArn) ?? [];
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: account ?? '',
    time: new Date(Math.floor(now / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    region: partitionRegion ?? '',
    resources: [change.executionArn],
    detail: {
      executionArn: change.executionArn,
      stateMachineArn: change.stateMachineArn,
      name: change.name,
      status: change.status,
      startDate: change.startDate,
      stopDate: change.stopDate ?? null,
      input: change.input,
      output: change.output ?? null,
      inputDetails: { included: true },
      outputDetails: change.output === undefined ? null : { included: true },
      error: change.error ?? null,
      cause: change.cause ?? null,
      redriveCount: change.redriveCount,
      redriveDate: change.redriveDate ?? null,
      redriveStatus: change.redriveStatus,
      ...(change.redriveStatusReason !== undefined && { redriveStatusReason: change.redriveStatusReason }),
    },
  };
}
