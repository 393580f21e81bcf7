import type { Clock } from '../../clock';
import type { AslState } from '../definitions';
import { QueryEvaluationError, StatesError } from './errors';
import { type JsonataEvaluator, jsonataText, type StatesBinding } from './jsonata';
import type { Json } from './paths';
import type { CatchRule, MapIo, StateFields, Step, TaskIo } from './state-fields';
import type { VariableScope } from './variables';

/** A valid ISO 8601 time with its offset, as a JSONata Wait's Timestamp must be. */
const ISO_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/**
 * A JSONata state's fields: `$states.input` is its input, Arguments its call's (a Task's; a
 * Parallel's branches' input), Output its output (by default its result, or its input where it has
 * none), Assign its variables; Output and Assign both see the variables as they were when it began.
 */
export class JsonataState implements StateFields {
  private readonly next?: string;
  private readonly states: StatesBinding;

  constructor(
    private readonly name: string,
    private readonly state: AslState,
    readonly input: Json,
    context: Record<string, Json>,
    private readonly scope: VariableScope,
    private readonly jsonata: JsonataEvaluator,
    private readonly clock: Clock,
  ) {
    this.next = state.End === true ? undefined : (state.Next as string | undefined);
    this.states = { input, context };
  }

  async failure(): Promise<StatesError> {
    return new StatesError(
      await this.string(this.state.Error, 'Error'),
      await this.string(this.state.Cause, 'Cause'),
    );
  }

  succeed(): Promise<Step> {
    return this.step(undefined, undefined);
  }

  pass(): Promise<Step> {
    return this.step(undefined, this.next);
  }

  async choice(): Promise<Step> {
    const { state } = this;
    for (const rule of state.Choices as Array<Record<string, unknown>>) {
      const holds = await this.fill(rule.Condition, 'Condition');
      if (typeof holds !== 'boolean') throw unexpectedType(rule.Condition, 'Condition', 'boolean', holds);
      if (!holds) continue;
      // The matched rule's Output and Assign; the state's are the Default's.
      return this.step(undefined, String(rule.Next), rule);
    }
    if (state.Default === undefined) {
      throw new StatesError(
        'States.NoChoiceMatched',
        `No Choice rule matched and there was no Default in state "${this.name}"`,
      );
    }
    return this.step(undefined, String(state.Default));
  }

  async waitMs(): Promise<number> {
    const { state } = this;
    return state.Seconds !== undefined
      ? (await this.number(state.Seconds, 'Seconds', this.states, 0)) * 1000
      : this.timestampMs(state.Timestamp);
  }

  async task(context: Record<string, Json>): Promise<TaskIo> {
    const { state, input } = this;
    const binding = { input, context };
    const seconds = (field: 'TimeoutSeconds' | 'HeartbeatSeconds') =>
      state[field] === undefined ? undefined : this.number(state[field], field, binding, 1);
    return {
      parameters: (withToken) =>
        state.Arguments === undefined
          ? {}
          : this.fill(state.Arguments, 'Arguments', { input, context: withToken }),
      timeoutSeconds: await seconds('TimeoutSeconds'),
      heartbeatSeconds: await seconds('HeartbeatSeconds'),
    };
  }

  async branchInput(): Promise<Json> {
    return this.state.Arguments === undefined ? this.input : this.fill(this.state.Arguments, 'Arguments');
  }

  async map(): Promise<MapIo> {
    const { state, input } = this;
    return {
      items: async () => {
        if (state.Items === undefined) return input;
        const items = await this.fill(state.Items, 'Items');
        if (!Array.isArray(items)) throw unexpectedType(state.Items, 'Items', 'array', items);
        return items;
      },
      itemInput: (value, itemContext) =>
        state.ItemSelector === undefined
          ? value
          : this.fill(state.ItemSelector, 'ItemSelector', { input, context: itemContext }),
      maxConcurrency:
        state.MaxConcurrency === undefined
          ? 0
          : await this.number(state.MaxConcurrency, 'MaxConcurrency', this.states, 0),
    };
  }

  waited(): Promise<Step> {
    return this.step(undefined, this.next);
  }

  finish(result: Json): Promise<Step> {
    return this.step(result, this.next);
  }

  async caught(catcher: CatchRule, error: StatesError): Promise<Step> {
    const errorOutput = { Error: error.name, Cause: error.message };
    const binding: StatesBinding = { ...this.states, errorOutput };
    return {
      next: catcher.Next,
      output: catcher.Output === undefined ? errorOutput : await this.fill(catcher.Output, 'Output', binding),
      assign:
        catcher.Assign === undefined
          ? undefined
          : ((await this.fill(catcher.Assign, 'Assign', binding)) as Record<string, Json>),
    };
  }

  /** Output (by default the result, or the input) and Assign, from the state or a Choice rule. */
  private async step(
    result: Json | undefined,
    next: string | undefined,
    fields: Readonly<Record<string, unknown>> = this.state,
  ): Promise<Step> {
    const binding = result === undefined ? this.states : { ...this.states, result };
    return {
      next,
      output:
        fields.Output === undefined
          ? (result ?? this.input)
          : await this.fill(fields.Output, 'Output', binding),
      assign:
        fields.Assign === undefined
          ? undefined
          : ((await this.fill(fields.Assign, 'Assign', binding)) as Record<string, Json>),
    };
  }

  private fill(value: unknown, location: string, binding: StatesBinding = this.states): Promise<Json> {
    return this.jsonata.fill(value, binding, this.scope, location);
  }

  /** A Fail state's Error or Cause: a string, literal or evaluated. */
  private async string(value: unknown, field: string): Promise<string> {
    if (value === undefined) return '';
    const text = await this.fill(value, field);
    if (typeof text !== 'string') throw unexpectedType(value, field, 'string', text);
    return text;
  }

  /** A whole number of at least `min`, literal or evaluated (Seconds, TimeoutSeconds, MaxConcurrency). */
  private async number(value: unknown, field: string, binding: StatesBinding, min: number): Promise<number> {
    const number = await this.fill(value, field, binding);
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min)
      throw unexpectedType(value, field, min > 0 ? 'positive integer' : 'non-negative integer', number);
    return number;
  }

  /** A Wait's Timestamp: an ISO 8601 time with its offset; how long until then. */
  private async timestampMs(value: unknown): Promise<number> {
    const timestamp = await this.fill(value, 'Timestamp');
    const at =
      typeof timestamp === 'string' && ISO_TIMESTAMP.test(timestamp) ? Date.parse(timestamp) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new QueryEvaluationError(
        'Timestamp',
        `The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: ${typeof timestamp === 'string' ? timestamp : JSON.stringify(timestamp)}`,
      );
    }
    return Math.max(0, at - this.clock.now());
  }
}

/** A JSONata field whose value is not of the type the field takes, as AWS words it. */
function unexpectedType(
  field: unknown,
  location: string,
  expected: string,
  value: Json,
): QueryEvaluationError {
  const text = jsonataText(field) ?? JSON.stringify(field);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return new QueryEvaluationError(
    location,
    `The JSONata expression '${text}' specified for the field '${location}' returned an unexpected result type. Expected '${expected}', but was '${type}' for value: ${JSON.stringify(value)}`,
  );
}
