import { type RandomGenerator, unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';

import { StatesError } from '../stepfunctions/asl/errors';
import type { Json } from '../stepfunctions/asl/paths';
import { forEachState, type StateMachineDefinition } from '../stepfunctions/definitions';
import type { ExecutionServiceCall } from '../stepfunctions/executions';
import { integrationErrorName } from '../stepfunctions/integrations/error-names';

/**
 * The faults AWS may inflict on the launch gate, for `npm start` and the planner alike: an answer
 * lost before or after the call took effect, a call delivered twice, a throttled call, and a
 * "Step Functions Execution Status Change" event never delivered. "The gate's calls" are every Task
 * state's call on the gate's DynamoDB table (any state machine: the workflow, the cleanup, the
 * reconciler) and `sfn:sendTaskSuccess` / `sendTaskFailure` (which wake waiters).
 *
 * Each fault takes a rate (each eligible call or event, drawn from a PRNG seeded with `seed`) or a
 * count (the first n eligible ones), optionally only at one state (`@ReleaseLaunchSlot`). A call
 * gets at most one fault: the kinds are tried in the order of GATE_FAULT_KINDS, and every rate
 * eligible for the call is drawn whichever strikes, so one seed and one order of calls give one
 * schedule (the planner's virtual clock fixes the order; `npm start`'s real processes vary it).
 *
 * How Step Functions reports each (an AWS SDK integration's error is `<Service>.<Name>`, "Exception"
 * appended when the API's name lacks it: Step Functions developer guide, "Learning to use AWS service
 * SDK integrations"; local/stepfunctions/integrations/error-names.ts):
 * - throttled: DynamoDB's `ProvisionedThroughputExceededException` ("The request was denied due to
 *   request throttling", DynamoDB API reference, on on-demand tables too), Step Functions' common
 *   `ThrottlingException` (AWS API reference, "Common errors", HTTP 400);
 * - an answer lost: the service's HTTP 500, which tells the caller nothing of whether the call took
 *   effect: DynamoDB's `InternalServerError` ("An error occurred on the server side"), Step Functions'
 *   common `InternalFailure`. Step Functions' own SDK client gives up with that error after its
 *   retries; a hung connection would end in the state's `States.Timeout` instead, which the gate's
 *   Retry treats alike, only 30 s later.
 */

export type GateFaultKind = 'lost-before' | 'lost-after' | 'duplicate' | 'throttle' | 'missed-event';

/** In the order a call is offered to them (`missed-event` applies to events only). */
export const GATE_FAULT_KINDS: readonly GateFaultKind[] = [
  'throttle',
  'lost-before',
  'lost-after',
  'duplicate',
  'missed-event',
];

/** How often a fault strikes: a share of the eligible calls (0..1) or the first `count` of them. */
export type FaultAmount = { readonly rate: number } | { readonly count: number };

export interface GateFault {
  readonly kind: GateFaultKind;
  readonly amount: FaultAmount;
  /** Only calls of Task states of this name are eligible (not for `missed-event`). @default - every gate call */
  readonly stateName?: string;
}

export interface GateFaultsOptions {
  readonly faults: readonly GateFault[];
  /** The PRNG's seed: the same seed gives the same faults. */
  readonly seed: number;
  /** The gate's DynamoDB table name(s): calls with this TableName are the gate's. */
  readonly tableNames: readonly string[];
  /**
   * How long each gate call takes before it takes effect, on the caller's clock. Not a fault: on AWS
   * a call takes milliseconds, in which other executions' calls run, so releasers that finish together
   * race for one waiter; on a virtual clock whose calls take no time they never do. @default none
   */
  readonly callLatency?: { readonly ms: number; readonly sleep: (ms: number) => Promise<void> };
}

/** One line per problem, naming the input and the fix (the CLI and the planner print it, exit 2). */
export class GateFaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateFaultError';
  }
}

const FORMAT =
  'use <kind>=<rate or count>[@<state>], kind one of lost-before, lost-after, duplicate, throttle, ' +
  'missed-event, a rate from 0 to 1 (0.01) or a whole count (3), e.g. lost-after=2@ReleaseLaunchSlot';

/** `lost-before=0.01`, `duplicate=3`, `lost-after=1@HandOnLaunchSlot`: one fault, or GateFaultError. */
export function parseGateFault(raw: string, option = '--gate-fault'): GateFault {
  const match = /^([a-z-]+)=([^@]+)(?:@(.+))?$/.exec(raw.trim());
  const refuse = (why: string) => new GateFaultError(`${option} ${JSON.stringify(raw)} ${why}: ${FORMAT}`);
  if (!match) throw refuse('is not valid');
  const [, kind, value, stateName] = match;
  if (!GATE_FAULT_KINDS.includes(kind as GateFaultKind)) throw refuse(`names no fault "${kind}"`);
  if (kind === 'missed-event' && stateName !== undefined)
    throw refuse('names a state, but events come from no state');
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0) throw refuse('is not valid');
  // A decimal point makes it a rate (1.0 is every call); a whole number without one, a count.
  const amount: FaultAmount | undefined = value.includes('.')
    ? number <= 1
      ? { rate: number }
      : undefined
    : Number.isSafeInteger(number)
      ? { count: number }
      : undefined;
  if (!amount) throw refuse('is neither a rate from 0 to 1 nor a whole count');
  return { kind: kind as GateFaultKind, amount, ...(stateName !== undefined && { stateName }) };
}

/**
 * Refuses a fault `@<state>` that names no Task state making gate calls in `definitions`: it could
 * never strike. The message lists the states that do.
 */
export function checkGateFaultStates(
  faults: readonly GateFault[],
  definitions: readonly StateMachineDefinition[],
  tableNames: readonly string[],
): void {
  const tables = new Set(tableNames);
  const gateStates = new Set<string>();
  for (const definition of definitions) {
    forEachState(definition, (state, name) => {
      // A JSONata state names its table in Arguments.
      const request = (state.Arguments ?? state.Parameters) as Json;
      if (state.Type === 'Task' && gateServiceOf(String(state.Resource), request, tables))
        gateStates.add(name);
    });
  }
  for (const fault of faults) {
    if (fault.stateName === undefined || gateStates.has(fault.stateName)) continue;
    throw new GateFaultError(
      `--gate-fault ${fault.kind}=…@${fault.stateName}: no state machine has a Task state ${JSON.stringify(fault.stateName)} that calls the launch gate: use one of ${[...gateStates].sort().join(', ')}`,
    );
  }
}

/** What the faults did so far, per kind. */
export type InjectedFaults = Record<GateFaultKind, number>;

interface FaultState extends GateFault {
  left: number;
}

export class GateFaults {
  private readonly faults: readonly FaultState[];
  private readonly rng: RandomGenerator;
  private readonly tables: ReadonlySet<string>;
  private readonly latency: GateFaultsOptions['callLatency'];
  readonly injected: InjectedFaults = Object.fromEntries(
    GATE_FAULT_KINDS.map((kind) => [kind, 0]),
  ) as InjectedFaults;

  constructor(options: GateFaultsOptions) {
    // Offered in GATE_FAULT_KINDS' order, then as given.
    const order = (fault: GateFault) => GATE_FAULT_KINDS.indexOf(fault.kind);
    this.faults = [...options.faults]
      .sort((a, b) => order(a) - order(b))
      .map((fault) => ({ ...fault, left: 'count' in fault.amount ? fault.amount.count : 0 }));
    this.rng = xoroshiro128plus(options.seed);
    this.tables = new Set(options.tableNames);
    this.latency = options.callLatency?.ms ? options.callLatency : undefined;
  }

  /** Whether any fault (or a call latency) is configured. */
  get active(): boolean {
    if (this.latency) return true;
    return this.faults.some((fault) => ('rate' in fault.amount ? fault.amount.rate > 0 : fault.left > 0));
  }

  /**
   * LocalStepFunctions' `onServiceCall`: a gate call may be throttled or lose its answer (before or
   * after `send`), or be sent twice; any other call is sent as it is.
   */
  readonly onServiceCall = async (call: ExecutionServiceCall, send: () => Promise<Json>): Promise<Json> => {
    const service = gateServiceOf(call.resource, call.parameters, this.tables);
    if (!service) return send();
    if (this.latency) await this.latency.sleep(this.latency.ms);
    switch (this.strike(call.stateName, ['throttle', 'lost-before', 'lost-after', 'duplicate'])) {
      case 'throttle':
        throw service.error(service.throttled, `Rate exceeded (injected: --gate-fault throttle)`);
      case 'lost-before':
        throw service.error(service.lost, `The answer was lost; the call did not take effect (injected)`);
      case 'lost-after':
        // Whatever it answered, the caller never hears it.
        await send().catch(() => undefined);
        throw service.error(service.lost, `The answer was lost; the call took effect (injected)`);
      case 'duplicate':
        // Delivered twice back to back, as a client's retry of a request whose first answer was
        // lost: both take effect, and the caller gets the second's answer.
        await send().catch(() => undefined);
        return send();
      default:
        return send();
    }
  };

  /**
   * LocalEventBus' `missed`: whether this event, matched by a rule, is never delivered. Only Step
   * Functions' status-change events are eligible (they are best-effort on AWS).
   */
  readonly missesEvent = (event: unknown): boolean => {
    const { source, 'detail-type': detailType } = (event ?? {}) as Record<string, unknown>;
    if (source !== 'aws.states' || detailType !== 'Step Functions Execution Status Change') return false;
    return this.strike(undefined, ['missed-event']) !== undefined;
  };

  /** The first of `kinds` that strikes this eligible call or event, counted; every rate is drawn. */
  private strike(stateName: string | undefined, kinds: readonly GateFaultKind[]): GateFaultKind | undefined {
    let struck: FaultState | undefined;
    for (const fault of this.faults) {
      if (!kinds.includes(fault.kind)) continue;
      if (fault.stateName !== undefined && fault.stateName !== stateName) continue;
      const strikes =
        'rate' in fault.amount ? this.draw() < fault.amount.rate : fault.left > 0 && struck === undefined;
      if (strikes && struck === undefined) {
        struck = fault;
        if ('count' in fault.amount) fault.left--;
      }
    }
    if (struck) this.injected[struck.kind]++;
    return struck?.kind;
  }

  /** A number in [0, 1). */
  private draw(): number {
    return unsafeUniformIntDistribution(0, 0xffffffff, this.rng) / 0x100000000;
  }
}

/** The gate's service a call reaches, with its error names; undefined for any other call. */
function gateServiceOf(resource: string, parameters: Json | undefined, tables: ReadonlySet<string>) {
  const [, sdk, service, action] = /^arn:[^:]+:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z]+)/.exec(
    resource,
  ) ?? [undefined, undefined, '', ''];
  const error = (prefix: string) => (name: string, message: string) =>
    // The optimized DynamoDB integration keeps the service's own names (integrations/dynamodb.ts).
    new StatesError(prefix === 'DynamoDB' ? `DynamoDB.${name}` : integrationErrorName(prefix, name), message);
  if (service === 'dynamodb') {
    const table = (parameters as { TableName?: unknown } | null | undefined)?.TableName;
    if (typeof table !== 'string' || !tables.has(table)) return undefined;
    return {
      error: error(sdk ? 'DynamoDb' : 'DynamoDB'),
      throttled: 'ProvisionedThroughputExceededException',
      lost: 'InternalServerError',
    };
  }
  if (sdk && service === 'sfn' && (action === 'sendTaskSuccess' || action === 'sendTaskFailure')) {
    return { error: error('Sfn'), throttled: 'ThrottlingException', lost: 'InternalFailure' };
  }
  return undefined;
}
