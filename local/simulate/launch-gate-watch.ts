import type { LocalCloudWatch } from '../cloudwatch/metrics';
import type { LaunchGateState } from '../dynamodb/launch-gate-state';
import type { Json } from '../stepfunctions/asl/paths';
import type { ExecutionRecord } from '../stepfunctions/executions';
import type { TaskTokens } from '../stepfunctions/task-tokens';
import type { DynamoDbItems } from './dynamodb-items';

/**
 * The planner's look at the launch gate, in the layout lib/launch-gate.ts writes (local/ may not
 * import lib/): the slot item (`pk` = `sk` = "slots") with its `holders` string set of execution ARNs
 * and its `limit`, and one waiter item per waiting execution (`pk` = "waiters", `sk` = its ARN) with
 * its `taskToken`. It reads the items without counting requests; the workflow never sees it.
 */

type Item = Readonly<Record<string, Json>>;

const SLOTS_KEY = { pk: { S: 'slots' }, sk: { S: 'slots' } };
/** Where the gate's reconciler publishes its repairs (lib/launch-gate-reconciler.ts). */
const REPAIRS_NAMESPACE = 'S3FargatePipeline/LaunchGate';
const WAITERS = 'waiters';

/**
 * The gate in `items` (a snapshot of every table): the slot item's holders and the waiter items; what
 * `readLaunchGate` reads from the local DynamoDB for `npm start`.
 */
export function launchGateIn(
  items: ReadonlyArray<{ readonly tableName: string; readonly item: Record<string, Json> }>,
  tableName: string,
): LaunchGateState {
  const gate = items.filter((entry) => entry.tableName === tableName).map((entry) => entry.item as Item);
  const slots = gate.find((item) => stringOf(item.pk) === 'slots' && stringOf(item.sk) === 'slots');
  return {
    holders: holdersOf(slots).length,
    waiters: gate.filter((item) => stringOf(item.pk) === WAITERS).length,
  };
}

/**
 * The longest time a slot stood free while someone waited. A slot is in use while a holder's
 * execution is RUNNING and not itself waiting for its wake-up (granted, not yet woken); someone
 * waits while any execution waits on a task token (the gate's line is the workflow's only
 * `.waitForTaskToken`). So a holder whose execution has ended (a stopped holder not yet released)
 * counts as a free slot: it is idle capacity, whatever the table says. `observe` is called at every
 * moment the answer can change (each write that took effect, each task launch, each execution's end).
 */
export class IdleSlotWatch {
  private idleSince: number | undefined;
  private longestMs = 0;

  constructor(
    private readonly items: DynamoDbItems,
    private readonly tableName: string,
    private readonly tokens: TaskTokens,
    private readonly execution: (executionArn: string) => ExecutionRecord | undefined,
  ) {}

  observe(now: number): void {
    const idle = this.slotIdleWhileWaiting();
    if (idle && this.idleSince === undefined) this.idleSince = now;
    if (!idle && this.idleSince !== undefined) {
      this.longestMs = Math.max(this.longestMs, now - this.idleSince);
      this.idleSince = undefined;
    }
  }

  /** The longest idle stretch so far, one still open at `now` included. */
  longestSeconds(now: number): number {
    const open = this.idleSince === undefined ? 0 : now - this.idleSince;
    return Math.max(this.longestMs, open) / 1000;
  }

  private slotIdleWhileWaiting(): boolean {
    if (this.tokens.waitingCount === 0) return false;
    const slots = this.items.peek(this.tableName, SLOTS_KEY);
    const limit = Number((slots?.limit as { N?: string } | undefined)?.N);
    // No limit written yet: no claim has run, so no one can be in line for a slot either.
    if (!Number.isFinite(limit)) return false;
    const holders = holdersOf(slots);
    // Fewer holders than slots: one stands free, whatever the holders do. Otherwise count the
    // holders in use until they fill every slot (this runs at every write: no more than needed).
    if (holders.length < limit) return true;
    let inUse = 0;
    for (const arn of holders) {
      const execution = this.execution(arn);
      if (execution?.status !== 'RUNNING') continue;
      // Granted but not yet woken: it still waits on its token, its history's last event the
      // TaskSubmitted of its `.waitForTaskToken` task (nothing else happens in it while it waits;
      // a running `runTask.sync` task's last event is a TaskSubmitted too, of another resource).
      const last = execution.history.events.at(-1);
      const waiting =
        last?.type === 'TaskSubmitted' &&
        String((last.taskSubmittedEventDetails as { resource?: string }).resource).endsWith(
          '.waitForTaskToken',
        );
      if (!waiting && ++inUse >= limit) return false;
    }
    return inUse < limit;
  }
}

/** What the reconciler reported it repaired so far: its PutMetricData values summed by metric name. */
export function launchGateRepairs(cloudwatch: LocalCloudWatch): Record<string, number> {
  const repairs: Record<string, number> = {};
  for (const { namespace, datum } of cloudwatch.recorded) {
    if (namespace !== REPAIRS_NAMESPACE) continue;
    const name = String(datum.MetricName);
    repairs[name] = (repairs[name] ?? 0) + Number(datum.Value ?? 1);
  }
  return repairs;
}

function holdersOf(slots: Item | undefined): string[] {
  return ((slots?.holders as { SS?: string[] } | undefined)?.SS ?? []).map(String);
}

function stringOf(value: Json | undefined): string | undefined {
  const text = (value as { S?: unknown } | undefined)?.S;
  return typeof text === 'string' ? text : undefined;
}
