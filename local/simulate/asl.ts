import type { AslState, StateMachineDefinition } from '../stepfunctions/definitions';

/**
 * The few pieces of the Amazon States Language the per-object workflow uses, evaluated the way
 * Step Functions does, so the simulator walks the synthesized definition itself: reference paths
 * (`$.a.b`), `ResultPath`, Pass states, Choice rules, Retry (attempts, backoff, cap, full jitter)
 * and Catch. Anything else is refused up front with the state's name, so a workflow the simulator
 * cannot model is never silently misread.
 *
 * Hand-written: aws-local-stepfunctions runs these in real time per execution; a capacity plan
 * needs thousands of executions in virtual time.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

export interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly ResultPath?: string | null;
  readonly Next: string;
}

export class UnsupportedWorkflowError extends Error {
  constructor(state: string, what: string) {
    super(
      `State "${state}": ${what} is not modelled by the simulator (local/simulate/asl.ts); ` +
        'simulate a workflow of Task (ecs:runTask.sync), Pass, Choice, Succeed and Fail states',
    );
    this.name = 'UnsupportedWorkflowError';
  }
}

const TASK_RESOURCE = /^arn:[^:]+:states:::ecs:runTask\.sync$/;
/** The Choice operators the per-object workflow uses; any other is refused up front. */
const CHOICE_OPERATORS = new Set(['StringMatches', 'IsPresent', 'NumericLessThan']);

/** Throws UnsupportedWorkflowError for the first state the simulator cannot run as Step Functions would. */
export function checkSupported(definition: StateMachineDefinition): void {
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task' && !TASK_RESOURCE.test(String(state.Resource))) {
      throw new UnsupportedWorkflowError(name, `Task resource ${String(state.Resource)}`);
    }
    if (!['Task', 'Pass', 'Choice', 'Succeed', 'Fail'].includes(state.Type)) {
      throw new UnsupportedWorkflowError(name, `a ${state.Type} state`);
    }
    for (const field of ['InputPath', 'OutputPath', 'Assign', 'QueryLanguage']) {
      if (state[field] !== undefined) throw new UnsupportedWorkflowError(name, field);
    }
    if (state.Type === 'Choice') {
      for (const rule of (state.Choices as Json[]) ?? []) checkRule(name, rule);
    }
  }
}

function checkRule(state: string, rule: Json): void {
  const r = rule as Record<string, Json>;
  if (Array.isArray(r.And) || Array.isArray(r.Or)) {
    for (const inner of (r.And ?? r.Or) as Json[]) checkRule(state, inner);
    return;
  }
  if (r.Not) return checkRule(state, r.Not);
  const operator = Object.keys(r).find((key) => !['Variable', 'Next'].includes(key));
  if (!operator || !CHOICE_OPERATORS.has(operator)) {
    throw new UnsupportedWorkflowError(state, `the Choice operator ${operator ?? '(none)'}`);
  }
}

/** The value at a reference path such as `$.error.Cause`; undefined when absent. */
export function readPath(input: Json, path: string): Json | undefined {
  if (path === '$') return input;
  let value: Json | undefined = input;
  for (const key of path.replace(/^\$\./, '').split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, Json>)[key];
  }
  return value;
}

/** `ResultPath`: where a result goes in the input (`$` replaces it, null discards the result). */
export function applyResultPath(input: Json, path: string | null | undefined, result: Json): Json {
  if (path === null) return input;
  if (path === undefined || path === '$') return result;
  const keys = path.replace(/^\$\./, '').split('.');
  const copy = structuredClone(input) as Record<string, Json>;
  let target = copy;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    target[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
    target = target[key] as Record<string, Json>;
  }
  target[keys[keys.length - 1]] = result;
  return copy;
}

/** A Pass state's output. */
export function runPass(state: AslState, input: Json): Json {
  const result = state.Parameters
    ? payload(state.Parameters as Record<string, Json>, input)
    : ((state.Result as Json | undefined) ?? input);
  return applyResultPath(input, state.ResultPath as string | null | undefined, result);
}

/** Parameters: `key.$` fields are paths or `States.MathAdd(path, n)`, the rest literal. */
function payload(template: Record<string, Json>, input: Json): Json {
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template)) {
    if (!key.endsWith('.$')) {
      out[key] = value;
      continue;
    }
    const expression = String(value);
    const add = /^States\.MathAdd\((\$[^,]*),\s*(-?\d+)\)$/.exec(expression);
    out[key.slice(0, -2)] = add
      ? Number(readPath(input, add[1])) + Number(add[2])
      : (readPath(input, expression) ?? null);
  }
  return out;
}

/** The state a Choice goes to for this input. */
export function choose(state: AslState, input: Json): string {
  for (const rule of state.Choices as Array<Record<string, Json>>) {
    if (matches(rule, input)) return String(rule.Next);
  }
  if (typeof state.Default !== 'string') throw new Error('States.NoChoiceMatched');
  return state.Default;
}

function matches(rule: Record<string, Json>, input: Json): boolean {
  if (Array.isArray(rule.And)) return rule.And.every((r) => matches(r as Record<string, Json>, input));
  if (Array.isArray(rule.Or)) return rule.Or.some((r) => matches(r as Record<string, Json>, input));
  if (rule.Not) return !matches(rule.Not as Record<string, Json>, input);
  const value = readPath(input, String(rule.Variable));
  if ('IsPresent' in rule) return (value !== undefined) === rule.IsPresent;
  if ('StringMatches' in rule) {
    return typeof value === 'string' && wildcard(String(rule.StringMatches)).test(value);
  }
  return typeof value === 'number' && value < Number(rule.NumericLessThan);
}

/** StringMatches: `*` matches any run of characters, `\*` a literal star. */
function wildcard(pattern: string): RegExp {
  const parts = pattern
    .split(/(?<!\\)\*/)
    .map((part) => part.replace(/\\\*/g, '*').replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's');
}

/** The retrier Step Functions applies to `error`: the first whose ErrorEquals names it or is States.ALL. */
export function retrierFor(state: AslState, error: string): number {
  return ((state.Retry as Retrier[] | undefined) ?? []).findIndex((r) => errorMatches(r.ErrorEquals, error));
}

export function catcherFor(state: AslState, error: string): Catcher | undefined {
  return ((state.Catch as Catcher[] | undefined) ?? []).find((c) => errorMatches(c.ErrorEquals, error));
}

/** As in a Task state: `States.ALL` matches any error, `States.TaskFailed` any but States.Timeout. */
function errorMatches(names: readonly string[], error: string): boolean {
  return (
    names.includes(error) ||
    names.includes('States.ALL') ||
    (names.includes('States.TaskFailed') && error !== 'States.Timeout')
  );
}

/**
 * The delay before retry number `attempt` (1-based) of `retrier`: IntervalSeconds × BackoffRate^(attempt-1),
 * capped at MaxDelaySeconds; under FULL jitter a uniform draw between 0 and that. Step Functions' defaults
 * apply to unset fields (1 s, rate 2, 3 attempts).
 */
export function retryDelaySeconds(retrier: Retrier, attempt: number, random: () => number): number {
  const ceiling = Math.min(
    (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1),
    retrier.MaxDelaySeconds ?? Infinity,
  );
  return retrier.JitterStrategy === 'FULL' ? random() * ceiling : ceiling;
}

export function maxAttemptsOf(retrier: Retrier): number {
  return retrier.MaxAttempts ?? 3;
}
