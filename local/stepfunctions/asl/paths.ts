import { isPlainObject } from '../../cloudformation/intrinsics';
import { runtimeError, StatesError } from './errors';
import { evaluateIntrinsic, isIntrinsic, parseIntrinsic } from './intrinsics';
import { variablesOf } from './variables';

/**
 * The JSONPath side of the Amazon States Language: paths (`$.a.b`, `$['a b']`, `$.a[0]`,
 * `$.a[*].b`, the context object's `$$.Task.Token`, a variable's `$name.field`), ResultPath, and payload templates
 * (Parameters, ResultSelector, ItemSelector: `key.$` fields take a path or an intrinsic function).
 * Paths are parsed when the definition loads, so a malformed one is refused naming its state.
 *
 * Hand-written: the JSONPath libraries on npm (jsonpath-plus, jsonpath) evaluate scripts in filter
 * expressions and follow none of Step Functions' rules (a path that matches nothing is a
 * States.Runtime failure, a reference path has no wildcard); the subset the language allows is small.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One step of a path: a field name, an index, or `[*]` (every element). */
type Step = { readonly field: string } | { readonly index: number } | { readonly wildcard: true };

export interface CompiledPath {
  readonly text: string;
  /** `$$.…`: reads the context object. */
  readonly context: boolean;
  /** `$name.…`: reads the workflow variable `name`. */
  readonly variable?: string;
  readonly steps: readonly Step[];
  /** Whether it can match several values (a `[*]`): then it gives an array. */
  readonly indefinite: boolean;
}

const cache = new Map<string, CompiledPath>();

/** Parses `$.a.b[0]['c d'][*]`; throws a plain Error naming the path when it is not one. */
export function compilePath(text: string): CompiledPath {
  const cached = cache.get(text);
  if (cached) return cached;
  const context = text.startsWith('$$');
  if (!text.startsWith('$')) throw new Error(`"${text}" is not a path: a path starts with $`);
  const variable = context ? undefined : /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text)?.[1];
  const steps: Step[] = [];
  const rest = text.slice(context ? 2 : 1 + (variable?.length ?? 0));
  const step = /\.([^.[\]'"]+)|\[(\d+)\]|\[\*\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  let at = 0;
  while (at < rest.length) {
    step.lastIndex = at;
    const match = step.exec(rest);
    if (!match) {
      throw new Error(
        `"${text}" is not a path Step Functions reads here: use $.field, $['field'], $.list[0] or $.list[*].field`,
      );
    }
    if (match[1] !== undefined) steps.push({ field: match[1] });
    else if (match[2] !== undefined) steps.push({ index: Number(match[2]) });
    else if (match[3] !== undefined || match[4] !== undefined)
      steps.push({ field: (match[3] ?? match[4]).replace(/\\(.)/g, '$1') });
    else steps.push({ wildcard: true });
    at = step.lastIndex;
  }
  const compiled = { text, context, variable, steps, indefinite: steps.some((s) => 'wildcard' in s) };
  cache.set(text, compiled);
  return compiled;
}

/** Whether `path` names a single place (no wildcard), as ResultPath must. */
export function compileReferencePath(text: string): CompiledPath {
  const path = compilePath(text);
  if (path.indefinite || path.context || path.variable !== undefined) {
    throw new Error(
      `"${text}" is not a reference path: ResultPath takes $.field or $.list[0], no [*], $$ or variable`,
    );
  }
  return path;
}

/** The value at `path` in `input` (or the context object), or States.Runtime when nothing matches. */
export function readPath(path: CompiledPath | string, input: Json, context: Json, where: string): Json {
  const compiled = typeof path === 'string' ? compilePath(path) : path;
  const found = walk(root(compiled, input, context), compiled.steps);
  if (found === undefined) {
    throw runtimeError(
      `The JSONPath '${compiled.text}' specified for the field '${where}' could not be found in the input '${JSON.stringify(input)}'`,
    );
  }
  return found;
}

/** The value at `path`, or undefined when it matches nothing (for Choice's IsPresent). */
export function lookUp(path: CompiledPath | string, input: Json, context: Json = {}): Json | undefined {
  const compiled = typeof path === 'string' ? compilePath(path) : path;
  return walk(root(compiled, input, context), compiled.steps);
}

function root(path: CompiledPath, input: Json, context: Json): Json | undefined {
  if (path.context) return context;
  return path.variable === undefined ? input : variablesOf(context)?.get(path.variable);
}

function walk(value: Json | undefined, steps: readonly Step[]): Json | undefined {
  let current = value;
  for (let i = 0; i < steps.length; i++) {
    if (current === undefined) return undefined;
    const step = steps[i];
    if ('wildcard' in step) {
      const items = Array.isArray(current) ? current : isPlainObject(current) ? Object.values(current) : [];
      const rest = steps.slice(i + 1);
      return items.map((item) => walk(item as Json, rest)).filter((item): item is Json => item !== undefined);
    }
    if ('index' in step) current = Array.isArray(current) ? current[step.index] : undefined;
    else current = isPlainObject(current) ? (current as Record<string, Json>)[step.field] : undefined;
  }
  return current;
}

/**
 * ResultPath: where a state's result goes in its input. `$` replaces the input, null keeps the
 * input and drops the result; a deeper path is created as needed. A path through a value that is not
 * an object fails with States.ResultPathMatchFailure, as on AWS. The input is left as it was: the
 * objects and arrays on the path are copied, the rest is shared (the engine never changes a JSON
 * value in place), which costs a fraction of copying the whole input on every Task.
 */
export function applyResultPath(input: Json, resultPath: string | null | undefined, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  const { steps } = compileReferencePath(resultPath);
  const fail = () =>
    new StatesError(
      'States.ResultPathMatchFailure',
      `Unable to apply ResultPath "${resultPath}" to input ${JSON.stringify(input)}`,
    );
  if (!isPlainObject(input) && !Array.isArray(input)) throw fail();
  const copy = (value: Json): Json =>
    Array.isArray(value) ? [...value] : isPlainObject(value) ? { ...(value as Record<string, Json>) } : value;
  const root = copy(input);
  let target: Json = root;
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    if ('index' in step) {
      if (!Array.isArray(target) || step.index >= target.length) throw fail();
      if (last) target[step.index] = result;
      else target = target[step.index] = copy(target[step.index]);
      return;
    }
    if (!isPlainObject(target)) throw fail();
    const field = (step as { field: string }).field;
    const object = target as Record<string, Json>;
    if (last) object[field] = result;
    else target = object[field] = object[field] === undefined ? {} : copy(object[field]);
  });
  return root;
}

/**
 * A payload template filled in: `key.$` fields take a path's value (`$$.` paths read the context
 * object) or an intrinsic function's; nested objects and arrays are filled in too; the rest is literal.
 */
export function fillPayload(template: Json, input: Json, context: Json, field = 'Parameters'): Json {
  if (Array.isArray(template)) return template.map((item) => fillPayload(item, input, context, field));
  if (!isPlainObject(template)) return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template as Record<string, Json>)) {
    if (!key.endsWith('.$')) {
      out[key] = fillPayload(value, input, context, field);
      continue;
    }
    const expression = String(value);
    out[key.slice(0, -2)] = isIntrinsic(expression)
      ? evaluateIntrinsic(parseIntrinsic(expression), input, context)
      : readPath(expression, input, context, key);
  }
  return out;
}

/** Checks every `key.$` expression of a template parses; throws naming the first that does not. */
export function checkPayload(template: unknown, where: string): void {
  if (Array.isArray(template)) return template.forEach((item) => checkPayload(item, where));
  if (!isPlainObject(template)) return;
  for (const [key, value] of Object.entries(template)) {
    if (!key.endsWith('.$')) {
      checkPayload(value, where);
      continue;
    }
    if (typeof value !== 'string')
      throw new Error(`${where} field "${key}" must be a path or intrinsic function`);
    checkExpression(value, `${where} field "${key}"`);
  }
}

/** A path or an intrinsic function, as ErrorPath, CausePath and `key.$` fields take. */
export function checkExpression(expression: string, where: string): void {
  try {
    if (isIntrinsic(expression)) parseIntrinsic(expression);
    else compilePath(expression);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
}

/** A path or an intrinsic function's value (ErrorPath, CausePath). */
export function evaluateExpression(expression: string, input: Json, context: Json, where: string): Json {
  return isIntrinsic(expression)
    ? evaluateIntrinsic(parseIntrinsic(expression), input, context)
    : readPath(expression, input, context, where);
}
