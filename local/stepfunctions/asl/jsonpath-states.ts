import type { Clock } from '../../clock';
import type { AslState } from '../definitions';
import { ruleMatches } from './choice-rules';
import { StatesError } from './errors';
import { applyResultPath, evaluateExpression, fillPayload, type Json, lookUp, readPath } from './paths';
import type { CatchRule, MapIo, StateFields, Step, TaskIo } from './state-fields';

/**
 * A JSONPath state's fields: InputPath, Parameters (paths and intrinsic functions), ResultSelector,
 * ResultPath, OutputPath and Assign. Assign reads the state's result as `$` (a Task's, Map's or
 * Parallel's before ResultSelector; its input where it has none), and the variables as they were
 * when the state began: OutputPath too reads them before the Assign is made.
 */
export class JsonPathState implements StateFields {
  private readonly next?: string;
  private effectiveInput?: { readonly value: Json };

  constructor(
    private readonly name: string,
    private readonly state: AslState,
    /** The state's input, before InputPath. */
    private readonly rawInput: Json,
    private readonly context: Record<string, Json>,
    private readonly clock: Clock,
  ) {
    this.next = state.End === true ? undefined : (state.Next as string | undefined);
  }

  /** The input after InputPath, read when first needed: a path that matches nothing fails the state. */
  get input(): Json {
    this.effectiveInput ??= { value: inputOf(this.state, this.rawInput, this.context) };
    return this.effectiveInput.value;
  }

  failure(): StatesError {
    const { state } = this;
    const text = (path: unknown, literal: unknown, field: string) => {
      if (typeof path === 'string') {
        const value = evaluateExpression(path, this.rawInput, this.context, field);
        return typeof value === 'string' ? value : JSON.stringify(value);
      }
      return typeof literal === 'string' ? literal : '';
    };
    return new StatesError(
      text(state.ErrorPath, state.Error, 'ErrorPath'),
      text(state.CausePath, state.Cause, 'CausePath'),
    );
  }

  succeed(): Step {
    return { output: this.outputOf(this.input) };
  }

  pass(): Step {
    const { state } = this;
    return this.finish(
      state.Parameters !== undefined
        ? fillPayload(state.Parameters as Json, this.input, this.context)
        : state.Result !== undefined
          ? (state.Result as Json)
          : this.input,
      this.context,
    );
  }

  choice(): Step {
    const { state, input, context } = this;
    const rule = (state.Choices as Array<Record<string, Json>>).find((r) => ruleMatches(r, input, context));
    const target = rule ? String(rule.Next) : (state.Default as string | undefined);
    if (target === undefined) {
      throw new StatesError(
        'States.NoChoiceMatched',
        `No Choice rule matched and there was no Default in state "${this.name}"`,
      );
    }
    // The matched rule's Assign; the state's when none matched (the Default), as AWS does.
    const assign = rule ? rule.Assign : state.Assign;
    return { next: target, output: this.outputOf(input), assign: this.assign(input, assign) };
  }

  waitMs(): number {
    const { state, input, context } = this;
    if (typeof state.Seconds === 'number') return state.Seconds * 1000;
    if (state.SecondsPath !== undefined) {
      const seconds = readPath(String(state.SecondsPath), input, context, 'SecondsPath');
      if (typeof seconds !== 'number' || seconds < 0) {
        throw new StatesError(
          'States.Runtime',
          `SecondsPath ${String(state.SecondsPath)} gave ${JSON.stringify(seconds)}, not a number of seconds`,
        );
      }
      return seconds * 1000;
    }
    const timestamp =
      state.Timestamp !== undefined
        ? state.Timestamp
        : readPath(String(state.TimestampPath), input, context, 'TimestampPath');
    const at = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
    if (Number.isNaN(at)) {
      throw new StatesError(
        'States.Runtime',
        `The Wait state's timestamp ${JSON.stringify(timestamp)} is not an ISO 8601 time`,
      );
    }
    return Math.max(0, at - this.clock.now());
  }

  task(context: Record<string, Json>): TaskIo {
    const { state, input } = this;
    return {
      parameters: (withToken) =>
        state.Parameters === undefined ? input : fillPayload(state.Parameters as Json, input, withToken),
      timeoutSeconds: secondsOf(state, 'TimeoutSeconds', input, context),
      heartbeatSeconds: secondsOf(state, 'HeartbeatSeconds', input, context),
    };
  }

  branchInput(): Json {
    const { state, input } = this;
    return state.Parameters === undefined
      ? input
      : fillPayload(state.Parameters as Json, input, this.context);
  }

  map(): MapIo {
    const { state, input, context } = this;
    const selector = (state.ItemSelector ?? state.Parameters) as Json | undefined;
    return {
      items: async () =>
        state.ItemsPath === undefined
          ? input
          : readPath(String(state.ItemsPath), input, context, 'ItemsPath'),
      itemInput: (value, itemContext) =>
        selector === undefined ? value : fillPayload(selector, input, itemContext, 'ItemSelector'),
      maxConcurrency: typeof state.MaxConcurrency === 'number' ? state.MaxConcurrency : 0,
    };
  }

  waited(): Step {
    return {
      next: this.next,
      output: this.outputOf(this.input),
      assign: this.assign(this.input, this.state.Assign),
    };
  }

  finish(result: Json, context: Record<string, Json>): Step {
    const { state } = this;
    const selected =
      state.ResultSelector === undefined
        ? result
        : fillPayload(state.ResultSelector as Json, result, context, 'ResultSelector');
    return {
      next: this.next,
      output: this.outputOf(
        applyResultPath(this.rawInput, state.ResultPath as string | null | undefined, selected),
      ),
      assign: this.assign(result, state.Assign),
    };
  }

  caught(catcher: CatchRule, error: StatesError): Step {
    const errorOutput = { Error: error.name, Cause: error.message };
    return {
      next: catcher.Next,
      output: applyResultPath(this.rawInput, catcher.ResultPath, errorOutput),
      assign: this.assign(errorOutput, catcher.Assign),
    };
  }

  private assign(result: Json, template: unknown) {
    return template === undefined
      ? undefined
      : (fillPayload(template as Json, result, this.context, 'Assign') as Record<string, Json>);
  }

  private outputOf(output: Json): Json {
    const { state } = this;
    if (state.OutputPath === null) return {};
    return state.OutputPath === undefined
      ? output
      : readPath(String(state.OutputPath), output, this.context, 'OutputPath');
  }
}

function inputOf(state: AslState, input: Json, context: Json): Json {
  if (state.InputPath === null) return {};
  return state.InputPath === undefined
    ? input
    : readPath(String(state.InputPath), input, context, 'InputPath');
}

/** TimeoutSeconds / HeartbeatSeconds, or their `…Path` form read from the effective input. */
function secondsOf(
  state: AslState,
  field: 'TimeoutSeconds' | 'HeartbeatSeconds',
  input: Json,
  context: Json,
): number | undefined {
  if (typeof state[field] === 'number') return state[field] as number;
  const path = state[`${field}Path`];
  if (path === undefined) return undefined;
  const value = lookUp(String(path), input, context);
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new StatesError(
      'States.Runtime',
      `${field}Path ${String(path)} gave ${JSON.stringify(value)}, not a positive integer`,
    );
  }
  return value;
}
