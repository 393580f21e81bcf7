import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { isPlainObject } from '../cloudformation/intrinsics';
import { StatesError } from './asl/errors';
import type { HistoryEvent } from './asl/history';
import { forEachState, type LocalStateMachineResource } from './definitions';
import { ExecutionAlreadyExists } from './errors';
import type { JournalEntry } from './execution-journal';
import { type LocalStepFunctions, mapRunOf, type MapRunRecord } from './executions';

/**
 * The Step Functions API, locally (signing name `states`): the actions of the API reference with
 * their request and response shapes (dates as epoch seconds) and error codes, on the local engine
 * (executions of earlier runs from its journal), for the endpoint to serve to any client and for the `aws-sdk:sfn:*` integration.
 */

type Request = Record<string, unknown>;

/** A Map Run as the API shows it: its children as the journal keeps them. */
type MapRunView = Omit<MapRunRecord, 'children'> & { readonly children: readonly JournalEntry[] };
type Response = Record<string, unknown>;

/**
 * DescribeExecution as Step Functions itself reads a child's outcome for `startExecution.sync`: any
 * Express child too (a client may describe an Express execution only when a Map Run started it). Not
 * an API action: the endpoint passes on only the actions of the service's model.
 */
export const DESCRIBE_OWN_CHILD = 'DescribeExecution (startExecution.sync)';

const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
const REDRIVE_FILTERS = ['REDRIVEN', 'NOT_REDRIVEN'];
/** StartExecution's `name`: at most 80 characters (the API's length constraint). */
const MAX_NAME_LENGTH = 80;

export class StepFunctionsApi implements LocalAwsService {
  readonly signingName = 'states';
  private readonly machines: ReadonlyMap<string, LocalStateMachineResource>;
  /** When the template's state machines were "created": when this API was, at the pipeline's start. */
  private readonly creationDate: number;
  private readonly actions: Record<string, (request: Request) => Response | Promise<Response>> = {
    ListStateMachines: (r) => this.listStateMachines(r),
    DescribeStateMachine: (r) => this.describeStateMachine(r),
    DescribeStateMachineForExecution: (r) => this.describeStateMachineForExecution(r),
    StartExecution: (r) => this.startExecution(r),
    StopExecution: (r) => this.stopExecution(r),
    DescribeExecution: (r) => this.describeExecution(r),
    ListExecutions: (r) => this.listExecutions(r),
    GetExecutionHistory: (r) => this.getExecutionHistory(r),
    RedriveExecution: (r) => this.redriveExecution(r),
    SendTaskSuccess: (r) => this.sendTask(r, 'success'),
    SendTaskFailure: (r) => this.sendTask(r, 'failure'),
    SendTaskHeartbeat: (r) => this.sendTask(r, 'heartbeat'),
    ListMapRuns: (r) => this.listMapRuns(r),
    DescribeMapRun: (r) => this.describeMapRun(r),
  };

  constructor(
    private readonly stepFunctions: LocalStepFunctions,
    stateMachines: readonly LocalStateMachineResource[],
  ) {
    this.machines = new Map(stateMachines.map((machine) => [machine.arn, machine]));
    this.creationDate = seconds(stepFunctions.clock.now());
  }

  async call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (action === DESCRIBE_OWN_CHILD) return this.describeExecution(request, true);
    const handler = Object.hasOwn(this.actions, action) ? this.actions[action] : undefined;
    if (!handler) {
      throw new AwsServiceError(
        'UnknownOperationException',
        `The local Step Functions does not serve ${action}; it serves ${Object.keys(this.actions).join(', ')}`,
      );
    }
    try {
      return await handler(request ?? {});
    } catch (error) {
      if (error instanceof StatesError) throw new AwsServiceError(error.name, error.message);
      if (error instanceof ExecutionAlreadyExists) throw new AwsServiceError(error.name, error.message);
      throw error;
    }
  }

  private listStateMachines(request: Request): Response {
    const items = [...this.machines.values()].map((machine) => ({
      stateMachineArn: machine.arn,
      name: nameOf(machine.arn),
      type: machine.type ?? 'STANDARD',
      creationDate: this.creationDate,
    }));
    const { page, nextToken } = paginate(items, request);
    return { stateMachines: page, ...(nextToken && { nextToken }) };
  }

  private describeStateMachine(request: Request): Response {
    const machine = this.machine(request.stateMachineArn);
    return {
      stateMachineArn: machine.arn,
      name: nameOf(machine.arn),
      status: 'ACTIVE',
      definition: JSON.stringify(machine.definition),
      roleArn: machine.roleArn ?? '',
      type: machine.type ?? 'STANDARD',
      creationDate: this.creationDate,
    };
  }

  /**
   * The state machine an execution ran: for a Distributed Map's child, the Map's ItemProcessor as
   * the child's state machine (`<parent ARN>/<label>`), with its Map Run and label, as AWS answers.
   */
  private describeStateMachineForExecution(request: Request): Response {
    const arn = this.executionArn(request.executionArn);
    refuseExpress(arn);
    const entry = this.entry(arn);
    const [parentArn, label] = entry.stateMachineArn.split('/');
    const machine = this.machine(parentArn);
    let definition: unknown = machine.definition;
    if (label !== undefined) {
      forEachState(machine.definition, (state, name) => {
        if ((state.Label ?? name) === label && state.ItemProcessor !== undefined)
          definition = state.ItemProcessor;
      });
    }
    return withoutUndefined({
      stateMachineArn: entry.stateMachineArn,
      name: nameOf(entry.stateMachineArn),
      definition: JSON.stringify(definition),
      roleArn: machine.roleArn ?? '',
      updateDate: this.creationDate,
      mapRunArn: entry.mapRunArn,
      label,
    });
  }

  private startExecution(request: Request): Response {
    const machine = this.machine(request.stateMachineArn);
    const name = request.name === undefined ? undefined : String(request.name);
    if (name !== undefined) checkName(name);
    const text = request.input === undefined ? '{}' : String(request.input);
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch {
      throw new AwsServiceError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${text}'`);
    }
    const record = this.stepFunctions.startExecution(machine, input, { name });
    return { executionArn: record.executionArn, startDate: seconds(record.startDate) };
  }

  private stopExecution(request: Request): Response {
    const arn = this.executionArn(request.executionArn);
    refuseExpress(arn);
    const entry = this.entry(arn);
    if (entry.status === 'RUNNING') {
      this.stepFunctions.stopExecution(
        arn,
        optionalString(request.error, 'error', 256),
        optionalString(request.cause, 'cause', 32768),
      );
    }
    const stopped = this.entry(arn);
    return {
      stopDate: seconds(
        Date.parse(stopped.stopDate ?? new Date(this.stepFunctions.clock.now()).toISOString()),
      ),
    };
  }

  /** `internal`: DESCRIBE_OWN_CHILD. */
  private describeExecution(request: Request, internal = false): Response {
    const arn = this.executionArn(request.executionArn);
    const entry = this.stepFunctions.describe(arn);
    if (!internal && !entry?.mapRunArn) refuseExpress(arn);
    if (!entry) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    const redrive = this.redriveStatus(entry);
    return withoutUndefined({
      executionArn: entry.executionArn,
      stateMachineArn: entry.stateMachineArn,
      name: entry.name,
      status: entry.status,
      startDate: seconds(Date.parse(entry.startDate)),
      stopDate: entry.stopDate === undefined ? undefined : seconds(Date.parse(entry.stopDate)),
      input: entry.input,
      inputDetails: { included: true },
      output: entry.output,
      outputDetails: entry.output === undefined ? undefined : { included: true },
      error: entry.error,
      cause: entry.cause,
      mapRunArn: entry.mapRunArn,
      redriveCount: entry.redriveCount,
      redriveDate: entry.redriveDate === undefined ? undefined : seconds(Date.parse(entry.redriveDate)),
      redriveStatus: redrive.status,
      redriveStatusReason: redrive.reason,
    });
  }

  private listExecutions(request: Request): Response {
    const { stateMachineArn, mapRunArn, statusFilter, redriveFilter } = request;
    if ((stateMachineArn === undefined) === (mapRunArn === undefined)) {
      throw new AwsServiceError(
        'ValidationException',
        'Exactly one of stateMachineArn and mapRunArn must be given',
      );
    }
    checkEnum(statusFilter, 'statusFilter', STATUSES);
    checkEnum(redriveFilter, 'redriveFilter', REDRIVE_FILTERS);
    let entries: readonly JournalEntry[];
    if (mapRunArn !== undefined) {
      entries = this.mapRun(mapRunArn).children;
    } else {
      if (statusFilter === 'PENDING_REDRIVE') {
        throw new AwsServiceError(
          'ValidationException',
          'The PENDING_REDRIVE statusFilter lists the children of a Map Run: give mapRunArn, not stateMachineArn',
        );
      }
      const machine = this.machine(stateMachineArn);
      if (machine.type === 'EXPRESS') {
        throw new AwsServiceError(
          'StateMachineTypeNotSupported',
          `This operation is not supported by this type of state machine: ${machine.arn} is EXPRESS`,
        );
      }
      entries = this.stepFunctions.entries().filter((e) => e.stateMachineArn === machine.arn);
    }
    const items = entries
      .filter((e) => statusFilter === undefined || e.status === statusFilter)
      .filter((e) => redriveFilter === undefined || e.redriveCount > 0 === (redriveFilter === 'REDRIVEN'))
      .sort((a, b) => b.startDate.localeCompare(a.startDate))
      .map((e) =>
        withoutUndefined({
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: seconds(Date.parse(e.startDate)),
          stopDate: e.stopDate === undefined ? undefined : seconds(Date.parse(e.stopDate)),
          mapRunArn: e.mapRunArn,
          // A Map Run's child processes one item (the Map has no ItemBatcher locally); listed by Map Run only.
          itemCount: mapRunArn === undefined ? undefined : 1,
          redriveCount: e.redriveCount,
          redriveDate: e.redriveDate === undefined ? undefined : seconds(Date.parse(e.redriveDate)),
        }),
      );
    const { page, nextToken } = paginate(items, request);
    return { executions: page, ...(nextToken && { nextToken }) };
  }

  private getExecutionHistory(request: Request): Response {
    const arn = this.executionArn(request.executionArn);
    // As on AWS: an Express execution has no history here (its record is CloudWatch Logs).
    refuseExpress(arn);
    const entry = this.entry(arn);
    const includeData = request.includeExecutionData !== false;
    const events = [...(entry.history ?? [])].map((event) => apiEvent(event, includeData));
    if (request.reverseOrder === true) events.reverse();
    const { page, nextToken } = paginate(events, request);
    return { events: page, ...(nextToken && { nextToken }) };
  }

  private redriveExecution(request: Request): Response {
    const arn = this.executionArn(request.executionArn);
    const entry = this.entry(arn);
    const machine = this.machines.get(entry.stateMachineArn);
    const redrive = this.redriveStatus(entry);
    if (!machine || redrive.status !== 'REDRIVABLE') {
      throw new AwsServiceError(
        'ExecutionNotRedrivable',
        `Execution ${arn} cannot be redriven: ${redrive.reason ?? redrive.status}`,
      );
    }
    const record = this.stepFunctions.redriveExecution(machine, arn);
    return { redriveDate: seconds(record.redriveDate ?? this.stepFunctions.clock.now()) };
  }

  private sendTask(request: Request, kind: 'success' | 'failure' | 'heartbeat'): Response {
    const token = request.taskToken;
    if (typeof token !== 'string' || token.length === 0 || token.length > 2048) {
      throw new AwsServiceError('InvalidToken', 'Invalid token');
    }
    const tokens = this.stepFunctions.tokens;
    if (kind === 'success') {
      if (typeof request.output !== 'string')
        throw new AwsServiceError('InvalidOutput', 'The output must be a JSON text');
      tokens.sendTaskSuccess(token, request.output);
    } else if (kind === 'failure') {
      tokens.sendTaskFailure(
        token,
        optionalString(request.error, 'error', 256),
        optionalString(request.cause, 'cause', 32768),
      );
    } else tokens.sendTaskHeartbeat(token);
    return {};
  }

  private listMapRuns(request: Request): Response {
    const arn = this.executionArn(request.executionArn);
    const parent = this.entry(arn);
    const live = [...this.stepFunctions.mapRuns.values()].filter((run) => run.executionArn === arn);
    const earlier = (parent.mapRuns ?? [])
      .filter((run) => !this.stepFunctions.mapRuns.has(run.mapRunArn))
      .map((run) => this.mapRun(run.mapRunArn));
    const items = [...live, ...earlier].map((run) =>
      withoutUndefined({
        executionArn: run.executionArn,
        mapRunArn: run.mapRunArn,
        stateMachineArn: run.stateMachineArn,
        startDate: seconds(run.startDate),
        stopDate: run.stopDate === undefined ? undefined : seconds(run.stopDate),
      }),
    );
    const { page, nextToken } = paginate(items, request);
    return { mapRuns: page, ...(nextToken && { nextToken }) };
  }

  private describeMapRun(request: Request): Response {
    const run = this.mapRun(request.mapRunArn);
    const count = (status: string) => run.children.filter((child) => child.status === status).length;
    // Unsuccessful children no redrive of the parent would run again (its Map Run succeeded, the
    // parent is past its redrive window, the history limit...): AWS's failuresNotRedrivable.
    const notRedrivable = run.children.filter(
      (child) =>
        child.status !== 'RUNNING' &&
        child.status !== 'SUCCEEDED' &&
        this.redriveStatus(child).status === 'NOT_REDRIVABLE',
    ).length;
    const counts = {
      running: count('RUNNING'),
      succeeded: count('SUCCEEDED'),
      failed: count('FAILED'),
      timedOut: count('TIMED_OUT'),
      aborted: count('ABORTED'),
      resultsWritten: 0,
      failuresNotRedrivable: notRedrivable,
      pendingRedrive: run.pendingRedrive,
    };
    return withoutUndefined({
      mapRunArn: run.mapRunArn,
      executionArn: run.executionArn,
      status: run.status,
      startDate: seconds(run.startDate),
      stopDate: run.stopDate === undefined ? undefined : seconds(run.stopDate),
      maxConcurrency: run.maxConcurrency,
      toleratedFailurePercentage: run.toleratedFailurePercentage,
      toleratedFailureCount: run.toleratedFailureCount,
      itemCounts: { ...counts, pending: run.unstarted.size, total: run.items },
      executionCounts: { ...counts, pending: 0, total: run.children.length },
      redriveCount: run.redriveCount,
      redriveDate: run.redriveDate === undefined ? undefined : seconds(run.redriveDate),
    });
  }

  private machine(arn: unknown): LocalStateMachineResource {
    if (typeof arn !== 'string' || !/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:[^:]+$/.test(arn)) {
      throw new AwsServiceError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`,
      );
    }
    const machine = this.machines.get(arn);
    if (!machine)
      throw new AwsServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private executionArn(arn: unknown): string {
    if (
      typeof arn !== 'string' ||
      !/^arn:[^:]+:states:[^:]*:[^:]*:(execution:[^:]+:[^:]+|express:[^:]+:[^:]+:[^:]+)$/.test(arn)
    ) {
      throw new AwsServiceError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`,
      );
    }
    return arn;
  }

  /**
   * A Map Run with its children as the journal keeps them: one of this process, or one of an earlier
   * run of the journal, from its execution's entry and its children's, so the commands see a
   * backfill's failed objects after a restart as on AWS.
   */
  private mapRun(arn: unknown): MapRunView {
    if (typeof arn !== 'string' || !/^arn:[^:]+:states:[^:]*:[^:]*:mapRun:/.test(arn)) {
      throw new AwsServiceError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`,
      );
    }
    const run = this.stepFunctions.mapRuns.get(arn);
    if (run) return { ...run, children: run.children.map((child) => this.stepFunctions.entryOf(child)) };
    const entries = this.stepFunctions.entries();
    const children = entries.filter((e) => e.mapRunArn === arn);
    const parent = entries.find((e) => e.mapRuns?.some((run) => run.mapRunArn === arn));
    const entry = parent?.mapRuns?.find((run) => run.mapRunArn === arn);
    if (!parent || !entry) throw new AwsServiceError('ResourceNotFound', `Map Run Does Not Exist: '${arn}'`);
    return mapRunOf(entry, parent.executionArn, children);
  }

  private entry(arn: string): JournalEntry {
    const entry = this.stepFunctions.describe(arn);
    if (!entry) throw new AwsServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return entry;
  }

  private redriveStatus(entry: JournalEntry): { status: string; reason?: string } {
    return this.stepFunctions.redriveStatus(entry, this.machines.get(entry.stateMachineArn)?.type);
  }
}

/**
 * An execution name as StartExecution accepts it: past the API's length constraint (1 to 80) a
 * ValidationException, as every constraint of the API model is refused; then none of the characters
 * the API reference excludes (InvalidName).
 */
function checkName(name: string): void {
  if (name.length < 1 || name.length > MAX_NAME_LENGTH) {
    throw constraintError(
      name,
      'name',
      `Member must have length ${name.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_NAME_LENGTH}`}`,
    );
  }
  // Control characters, U+FFFE-FFFF and lone surrogates (a pair is one code point here).
  const control = [...name].some((c) => {
    const code = c.codePointAt(0)!;
    return (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0xd800 && code <= 0xdfff) ||
      code === 0xfffe ||
      code === 0xffff
    );
  });
  if (control || /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/.test(name)) {
    throw new AwsServiceError('InvalidName', `Invalid Name: '${name}'`);
  }
}

/** A value of an enum member, as the API model constrains it. */
function checkEnum(value: unknown, member: string, values: readonly string[]): void {
  if (value !== undefined && !values.includes(String(value))) {
    throw constraintError(value, member, `Member must satisfy enum value set: [${values.join(', ')}]`);
  }
}

/** As on AWS: an Express execution is not one the Standard actions serve. */
function refuseExpress(executionArn: string): void {
  if (executionArn.split(':')[5] === 'express') {
    throw new AwsServiceError(
      'InvalidArn',
      "Invalid Arn: 'Resource type not valid in this context: express'",
    );
  }
}

function optionalString(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw constraintError(value, field, `Member must have length less than or equal to ${max}`);
  }
  return value;
}

/** A value outside a constraint of the API model, refused as AWS's request validation words it. */
function constraintError(value: unknown, member: string, constraint: string): AwsServiceError {
  return new AwsServiceError(
    'ValidationException',
    `1 validation error detected: Value '${String(value)}' at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

/** maxResults (0 or absent: 100; at most 1000) and nextToken (the offset, opaque). */
function paginate<T>(items: readonly T[], request: Request): { page: T[]; nextToken?: string } {
  const max = request.maxResults === undefined ? 0 : Number(request.maxResults);
  if (!Number.isInteger(max) || max < 0 || max > 1000) {
    throw constraintError(
      request.maxResults,
      'maxResults',
      max > 1000
        ? 'Member must have value less than or equal to 1000'
        : 'Member must have value greater than or equal to 0',
    );
  }
  let start = 0;
  if (request.nextToken !== undefined) {
    const decoded = /^[A-Za-z0-9+/=]+$/.test(String(request.nextToken))
      ? Buffer.from(String(request.nextToken), 'base64').toString()
      : '';
    const match = /^offset:(\d+)$/.exec(decoded);
    if (!match) throw new AwsServiceError('InvalidToken', `Invalid Token: '${String(request.nextToken)}'`);
    start = Number(match[1]);
  }
  const end = start + (max === 0 ? 100 : max);
  return {
    page: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString('base64') : undefined,
  };
}

/** A history event as the API returns it: the timestamp in epoch seconds; data left out if asked. */
function apiEvent(event: HistoryEvent, includeData: boolean): Response {
  const out: Response = { ...event, timestamp: seconds(event.timestamp) };
  if (!includeData) {
    for (const [key, value] of Object.entries(out)) {
      if (key.endsWith('EventDetails') && isPlainObject(value)) {
        out[key] = Object.fromEntries(
          Object.entries(value).filter(([field]) => field !== 'input' && field !== 'output'),
        );
      }
    }
  }
  return out;
}

function nameOf(arn: string): string {
  return arn.split(':').pop() ?? '';
}

function seconds(ms: number): number {
  return ms / 1000;
}

function withoutUndefined(object: Response): Response {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
