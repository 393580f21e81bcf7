import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  DescribeMapRunCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  ListExecutionsCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * The AWS-only commands against aws-sdk-client-mock clients backed by a small in-memory model of
 * the Step Functions calls they make, so a test can run a command twice and see the second run find
 * what the first one changed. Pages are `pageSize` long, to exercise paging.
 */

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const WORKFLOW_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Workflow`;
export const BACKFILL_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Backfill`;
/** The tests' now: fixtures are placed relative to it, and the commands' default window is 24 h back from the clock. */
export const NOW = new Date();
export const HOUR_MS = 3_600_000;

export interface FakeExecution extends DescribeExecutionOutput {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  status: NonNullable<DescribeExecutionOutput['status']>;
  /** The map run of a backfill child. */
  mapRunArn?: string;
}

/** A stopped task's description, as runTask.sync puts it in the cause. */
export function taskCause(bucket: string, key: string, exitCode: number): string {
  const task = {
    TaskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/cluster/abc`,
    LastStatus: 'STOPPED',
    StopCode: 'EssentialContainerExited',
    StoppedReason: 'Essential container in task exited',
    Containers: [{ Name: 'worker', ExitCode: exitCode, LastStatus: 'STOPPED' }],
  };
  return `Processing s3://${bucket}/${key} failed: ${JSON.stringify(task)}`;
}

export class FakeStepFunctions {
  readonly executions = new Map<string, FakeExecution>();
  /** Map run ARN -> the backfill execution it belongs to. */
  readonly mapRuns = new Map<string, string>();
  readonly sfn = mockClient(SFNClient);
  readonly cloudFormation = mockClient(CloudFormationClient);
  pageSize = 2;
  /** ListExecutions inputs as sent (the paginator reuses one input object across pages). */
  readonly listed: Array<Record<string, unknown>> = [];

  constructor() {
    this.outputs({});
    this.sfn.on(DescribeMapRunCommand).callsFake((input) => {
      const executionArn = this.mapRuns.get(input.mapRunArn);
      if (!executionArn) throw new Error(`no map run ${input.mapRunArn}`);
      return { mapRunArn: input.mapRunArn, executionArn, status: 'SUCCEEDED', startDate: NOW };
    });
    this.sfn.on(ListExecutionsCommand).callsFake((input) => {
      this.listed.push({ ...input });
      const all = [...this.executions.values()]
        .filter((e) =>
          input.mapRunArn
            ? e.mapRunArn === input.mapRunArn
            : e.stateMachineArn === input.stateMachineArn && !e.mapRunArn,
        )
        .filter((e) => !input.statusFilter || e.status === input.statusFilter)
        .sort((a, b) => b.startDate!.getTime() - a.startDate!.getTime());
      const start = Number(input.nextToken ?? 0);
      const page = all.slice(start, start + this.pageSize);
      const more = start + this.pageSize < all.length;
      return {
        executions: page.map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({
          executionArn,
          stateMachineArn,
          name,
          status,
          startDate,
          stopDate,
        })),
        nextToken: more ? String(start + this.pageSize) : undefined,
      };
    });
    this.sfn.on(ListMapRunsCommand).callsFake((input) => ({
      mapRuns: [...this.mapRuns]
        .filter(([, parent]) => parent === input.executionArn)
        .map(([mapRunArn]) => ({ mapRunArn, executionArn: input.executionArn, startDate: NOW })),
    }));
    this.sfn.on(DescribeExecutionCommand).callsFake((input) => {
      const execution = this.executions.get(input.executionArn);
      if (!execution) {
        throw new ExecutionDoesNotExist({
          message: `Execution Does Not Exist: '${input.executionArn}'`,
          $metadata: {},
        });
      }
      return { ...execution };
    });
    this.sfn.on(RedriveExecutionCommand).callsFake((input) => {
      const execution = this.executions.get(input.executionArn);
      if (!execution || execution.redriveStatus !== 'REDRIVABLE') {
        throw new ExecutionNotRedrivable({
          message: `Execution ${input.executionArn} cannot be redriven: ${execution?.redriveStatusReason ?? 'unknown'}`,
          $metadata: {},
        });
      }
      Object.assign(execution, {
        status: 'RUNNING',
        redriveCount: (execution.redriveCount ?? 0) + 1,
        redriveDate: NOW,
      });
      // The Map Run of a redriven backfill run redrives its failed children.
      const children = [...this.executions.values()].filter(
        (e) =>
          e.mapRunArn && this.mapRuns.get(e.mapRunArn) === execution.executionArn && e.status !== 'SUCCEEDED',
      );
      for (const child of children) Object.assign(child, { status: 'RUNNING', redriveCount: 1 });
      return { redriveDate: NOW };
    });
    this.sfn.on(StartExecutionCommand).callsFake((input) => {
      const executionArn = `${input.stateMachineArn!.replace(':stateMachine:', ':execution:')}:${input.name}`;
      if (this.executions.has(executionArn)) {
        throw new ExecutionAlreadyExists({
          message: `Execution Already Exists: '${executionArn}'`,
          $metadata: {},
        });
      }
      this.add({
        executionArn,
        name: input.name!,
        stateMachineArn: input.stateMachineArn!,
        status: 'RUNNING',
        startDate: NOW,
        input: input.input,
      });
      return { executionArn, startDate: NOW };
    });
  }

  /** The stack's outputs: the two state machines', and `more` (e.g. a records table). */
  outputs(more: Record<string, string>): void {
    const outputs = { StateMachineArn: WORKFLOW_ARN, BackfillStateMachineArn: BACKFILL_ARN, ...more };
    this.cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'S3FargatePipeline',
          CreationTime: NOW,
          StackStatus: 'CREATE_COMPLETE',
          Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
  }

  add(execution: FakeExecution): FakeExecution {
    this.executions.set(execution.executionArn, execution);
    return execution;
  }

  /** An execution of the event-driven workflow for `key` that failed `hoursAgo` hours ago. */
  failed(
    name: string,
    key: string,
    options: {
      hoursAgo?: number;
      error?: string;
      cause?: string;
      status?: FakeExecution['status'];
      redrivable?: boolean;
      stateMachineArn?: string;
      mapRunArn?: string;
    } = {},
  ): FakeExecution {
    const stateMachineArn = options.stateMachineArn ?? WORKFLOW_ARN;
    const stopDate = new Date(NOW.getTime() - (options.hoursAgo ?? 1) * HOUR_MS);
    const redrivable = options.redrivable ?? true;
    return this.add({
      executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
      name,
      stateMachineArn,
      mapRunArn: options.mapRunArn,
      status: options.status ?? 'FAILED',
      startDate: new Date(stopDate.getTime() - 60_000),
      stopDate,
      input: JSON.stringify({ bucket: 'data', key, etag: '"e"', versionId: '' }),
      error: options.error ?? 'States.TaskFailed',
      cause: options.cause ?? taskCause('data', key, 1),
      redriveStatus: options.mapRunArn
        ? 'REDRIVABLE_BY_MAP_RUN'
        : redrivable
          ? 'REDRIVABLE'
          : 'NOT_REDRIVABLE',
      redriveStatusReason: redrivable ? undefined : 'Execution redrivable period exceeded',
    });
  }

  /** A backfill run with one Map Run; returns the map run's ARN. */
  backfillRun(
    name: string,
    status: FakeExecution['status'],
    options: { redrivable?: boolean; hoursAgo?: number; error?: string } = {},
  ): { run: FakeExecution; mapRunArn: string } {
    const stopDate = new Date(NOW.getTime() - (options.hoursAgo ?? 1) * HOUR_MS);
    const run = this.add({
      executionArn: `${BACKFILL_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
      name,
      stateMachineArn: BACKFILL_ARN,
      status,
      startDate: new Date(stopDate.getTime() - HOUR_MS),
      stopDate: status === 'RUNNING' ? undefined : stopDate,
      input: JSON.stringify({ prefix: 'incoming/' }),
      error: options.error,
      redriveStatus: options.redrivable ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
      redriveStatusReason: options.redrivable ? undefined : `Execution is ${status} and cannot be redriven`,
    });
    const mapRunArn = `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:Backfill/ForEachExistingObject:${name}`;
    this.mapRuns.set(mapRunArn, run.executionArn);
    return { run, mapRunArn };
  }

  /** A failed per-object child of a backfill's Map Run. */
  failedChild(mapRunArn: string, name: string, key: string, hoursAgo = 1): FakeExecution {
    return this.failed(name, key, {
      hoursAgo,
      mapRunArn,
      stateMachineArn: `${BACKFILL_ARN}/ForEachExistingObject`,
    });
  }

  calls(
    command: typeof RedriveExecutionCommand | typeof StartExecutionCommand | typeof ListExecutionsCommand,
  ) {
    return this.sfn
      .commandCalls(command as never)
      .map((call) => call.args[0].input as Record<string, unknown>);
  }

  restore(): void {
    this.sfn.restore();
    this.cloudFormation.restore();
  }
}

/** Runs a command's function with its lines collected. */
export async function runCommand(
  command: (argv: readonly string[], print: (line: string) => void) => Promise<number>,
  argv: readonly string[],
): Promise<{ code: number; lines: string[]; text: string }> {
  const lines: string[] = [];
  const code = await command(argv, (line) => lines.push(line));
  return { code, lines, text: lines.join('\n') };
}
