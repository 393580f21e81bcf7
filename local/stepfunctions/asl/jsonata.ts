import { randomUUID } from 'node:crypto';

import jsonata from 'jsonata';

import type { Clock } from '../../clock';
import { isPlainObject } from '../../cloudformation/intrinsics';
import { QueryEvaluationError } from './errors';
import { runIntrinsic } from './intrinsics';
import type { Json } from './paths';
import type { VariableScope } from './variables';

/**
 * The JSONata side of the Amazon States Language (`"QueryLanguage": "JSONata"`): a string
 * `"{% expression %}"` anywhere in a field's JSON value is evaluated by the `jsonata` library (the
 * version AWS runs, 2.0.6) with `$states` (`input`, `context`, `result`, `errorOutput`) and the
 * workflow variables bound; other values pass through literally. Step Functions' own functions are
 * added (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`), and `$now()` and
 * `$millis()` read the engine's Clock, not the wall clock. An expression that throws, or gives
 * nothing (or a function) where a value is needed, fails with States.QueryEvaluationError, naming
 * the field as AWS does (`Arguments/FunctionName`).
 *
 * Each expression is parsed once per engine (the definition check parses them all, so a malformed
 * one is refused when the definition loads); evaluating it is the only per-state cost.
 */

/** What `$states` holds in an expression: `result` only in a Task/Parallel/Map's Output and Assign,
 * `errorOutput` only in a Catch's. */
export interface StatesBinding {
  readonly input: Json;
  readonly context: Json;
  readonly result?: Json;
  readonly errorOutput?: Json;
}

/** The expression inside `{% … %}`, or undefined when `value` is not a JSONata string. */
export function jsonataText(value: unknown): string | undefined {
  return typeof value === 'string' && value.length >= 4 && value.startsWith('{%') && value.endsWith('%}')
    ? value.slice(2, -2).trim()
    : undefined;
}

// $now with a picture or time zone formats the Clock's time as $fromMillis does.
const FROM_MILLIS = jsonata('$fromMillis($ms, $picture, $timezone)');

export class JsonataEvaluator {
  private readonly expressions = new Map<string, jsonata.Expression>();

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  /**
   * Parses `text` (once) and refuses what the engine cannot run as AWS does; throws a plain Error
   * naming the problem.
   */
  compile(text: string): jsonata.Expression {
    const cached = this.expressions.get(text);
    if (cached) return cached;
    let expression: jsonata.Expression;
    try {
      expression = jsonata(text);
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      throw new Error(`the JSONata expression '${text}' does not parse: ${code}: ${message}`, {
        cause: error,
      });
    }
    refuseUnsupported(expression.ast(), text, false);
    this.register(expression);
    this.expressions.set(text, expression);
    return expression;
  }

  /** The value of one expression; `location` names the field for errors (`Output/result`). */
  async evaluate(
    text: string,
    states: StatesBinding,
    variables: VariableScope,
    location: string,
  ): Promise<Json> {
    const expression = this.compile(text);
    let value: unknown;
    try {
      value = await expression.evaluate(undefined, { ...variables.all(), states });
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      throw new QueryEvaluationError(
        location,
        `The JSONata expression '${text}' specified for the field '${location}' threw an error during evaluation. ${code ? `${code}: ` : ''}${message}`,
      );
    }
    if (value === undefined) {
      throw new QueryEvaluationError(
        location,
        `The JSONata expression '${text}' specified for the field '${location}' returned nothing (undefined).`,
      );
    }
    if (isFunction(value)) {
      throw new QueryEvaluationError(
        location,
        `The JSONata expression '${text}' specified for the field '${location}' returned an unsupported result type.`,
      );
    }
    // A JSONata sequence is an array with markers of its own: the state sees plain JSON.
    return typeof value === 'object' && value !== null
      ? (JSON.parse(JSON.stringify(value)) as Json)
      : (value as Json);
  }

  /** A field's JSON value with every `{% … %}` string in it evaluated. */
  async fill(
    template: unknown,
    states: StatesBinding,
    variables: VariableScope,
    location: string,
  ): Promise<Json> {
    const text = jsonataText(template);
    if (text !== undefined) return this.evaluate(text, states, variables, location);
    // A part with no expression in it is copied as it is, without a turn per value.
    if (!holdsJsonata(template)) return copyOf(template);
    if (Array.isArray(template)) {
      const out: Json[] = [];
      for (let i = 0; i < template.length; i++)
        out.push(await this.fill(template[i], states, variables, `${location}/${i}`));
      return out;
    }
    if (isPlainObject(template)) {
      const out: Record<string, Json> = {};
      for (const [key, value] of Object.entries(template))
        out[key] = await this.fill(value, states, variables, `${location}/${key}`);
      return out;
    }
    return template as Json;
  }

  private register(expression: jsonata.Expression): void {
    expression.registerFunction('millis', () => this.clock.now(), '<:n>');
    expression.registerFunction(
      'now',
      (picture?: string, timezone?: string) =>
        FROM_MILLIS.evaluate(undefined, { ms: this.clock.now(), picture, timezone }),
      '<s?s?:s>',
    );
    expression.registerFunction('random', () => this.random(), '<:n>');
    expression.registerFunction('uuid', () => randomUUID(), '<:s>');
    expression.registerFunction('partition', (items: Json, size: Json) =>
      intrinsic('$partition', 'States.ArrayPartition', [items, size]),
    );
    // A one-element range is a JSONata sequence of one, which is its element (as on AWS).
    expression.registerFunction('range', (start: Json, end: Json, step: Json) => {
      const range = intrinsic('$range', 'States.ArrayRange', [start, end, step]) as Json[];
      return range.length === 1 ? range[0] : range;
    });
    expression.registerFunction('hash', (value: Json, algorithm: Json) =>
      intrinsic('$hash', 'States.Hash', [value, algorithm]),
    );
    expression.registerFunction('parse', (text: Json) => intrinsic('$parse', 'States.StringToJson', [text]));
  }
}

/** Whether a template holds a `{% %}` string anywhere: known once per object of the definition. */
const holding = new WeakMap<object, boolean>();

function holdsJsonata(template: unknown): boolean {
  if (jsonataText(template) !== undefined) return true;
  if (template === null || typeof template !== 'object') return false;
  let known = holding.get(template);
  if (known === undefined) {
    known = Object.values(template).some(holdsJsonata);
    holding.set(template, known);
  }
  return known;
}

/** A copy of a literal part of a template, as filling it in gives it: new arrays and objects. */
function copyOf(template: unknown): Json {
  if (Array.isArray(template)) return template.map(copyOf);
  if (isPlainObject(template)) {
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(template)) out[key] = copyOf(value);
    return out;
  }
  return template as Json;
}

/** Runs the intrinsic function that implements a JSONata function; its errors name the JSONata one. */
function intrinsic(jsonataName: string, name: string, args: Json[]): Json {
  try {
    return runIntrinsic(
      name,
      args.map((arg) => (arg === undefined ? null : arg)),
    );
  } catch (error) {
    throw new Error((error as Error).message.replace(name, jsonataName), { cause: error });
  }
}

function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  const marked = value as { _jsonata_lambda?: boolean; _jsonata_function?: boolean } | null;
  return (
    typeof value === 'object' && (marked?._jsonata_lambda === true || marked?._jsonata_function === true)
  );
}

/**
 * Refuses, naming it, what Step Functions does not run: `$eval` (AWS leaves it out: use `$parse`),
 * a seeded `$random(seed)` (AWS's sequence for a seed is not published), and the root references
 * `$$` and a top-level `$` (a state's input is `$states.input`). `inner` is true under a path step,
 * a predicate or a function body, where `$` is the item in hand.
 */
function refuseUnsupported(node: unknown, text: string, inner: boolean): void {
  if (Array.isArray(node)) return node.forEach((child) => refuseUnsupported(child, text, inner));
  if (!isPlainObject(node)) return;
  if (node.type === 'variable') {
    if (node.value === '$' || (node.value === '' && !inner)) {
      throw new Error(
        `the JSONata expression '${text}' reads ${node.value === '$' ? '$$' : '$'} at its top level: read the state's input as $states.input`,
      );
    }
    return;
  }
  if (node.type === 'function' && isPlainObject(node.procedure) && node.procedure.type === 'variable') {
    const name = node.procedure.value;
    if (name === 'eval')
      throw new Error(
        `the JSONata expression '${text}' calls $eval, which Step Functions leaves out: use $parse`,
      );
    if (name === 'random' && Array.isArray(node.arguments) && node.arguments.length > 0) {
      throw new Error(
        `the JSONata expression '${text}' calls $random with a seed, whose sequence on AWS is not published: call $random()`,
      );
    }
  }
  for (const [key, child] of Object.entries(node)) {
    if (key === 'steps' && Array.isArray(child)) {
      child.forEach((step, i) => refuseUnsupported(step, text, inner || i > 0));
    } else {
      const deeper = ['stages', 'predicate', 'group', 'body', 'terms', 'update', 'delete'].includes(key);
      refuseUnsupported(child, text, inner || deeper);
    }
  }
}
