import { isPlainObject } from '../../cloudformation/intrinsics';
import { runtimeError } from './errors';
import { compilePath, type Json, lookUp } from './paths';

/**
 * A Choice state's rules, as Step Functions evaluates them: every comparison operator of the
 * language (String*, Numeric*, Boolean*, Timestamp*, each with its `…Path` form), the type tests
 * (IsNull, IsPresent, IsNumeric, IsString, IsBoolean, IsTimestamp), StringMatches with `*`, and
 * And/Or/Not, which stop at the first rule that decides. A comparison whose Variable matches nothing
 * fails the execution with States.Runtime, as on AWS; a comparison of another type is false.
 */

type Compare = (value: Json, operand: Json) => boolean;

const ordered =
  <T extends string | number>(test: (a: T, b: T) => boolean, type: (v: Json) => v is T): Compare =>
  (value, operand) =>
    type(value) && type(operand) && test(value, operand);
const isString = (v: Json): v is string => typeof v === 'string';
const isNumber = (v: Json): v is number => typeof v === 'number';
const timestamp = (v: Json): number | undefined =>
  typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)
    ? Date.parse(v)
    : undefined;
const timestamps =
  (test: (a: number, b: number) => boolean): Compare =>
  (value, operand) => {
    const [a, b] = [timestamp(value), timestamp(operand)];
    return a !== undefined && b !== undefined && test(a, b);
  };

const COMPARISONS: Record<string, Compare> = {
  StringEquals: ordered((a, b) => a === b, isString),
  StringLessThan: ordered((a, b) => a < b, isString),
  StringGreaterThan: ordered((a, b) => a > b, isString),
  StringLessThanEquals: ordered((a, b) => a <= b, isString),
  StringGreaterThanEquals: ordered((a, b) => a >= b, isString),
  StringMatches: (value, pattern) => isString(value) && isString(pattern) && wildcard(pattern).test(value),
  NumericEquals: ordered((a, b) => a === b, isNumber),
  NumericLessThan: ordered((a, b) => a < b, isNumber),
  NumericGreaterThan: ordered((a, b) => a > b, isNumber),
  NumericLessThanEquals: ordered((a, b) => a <= b, isNumber),
  NumericGreaterThanEquals: ordered((a, b) => a >= b, isNumber),
  BooleanEquals: (value, operand) => typeof value === 'boolean' && value === operand,
  TimestampEquals: timestamps((a, b) => a === b),
  TimestampLessThan: timestamps((a, b) => a < b),
  TimestampGreaterThan: timestamps((a, b) => a > b),
  TimestampLessThanEquals: timestamps((a, b) => a <= b),
  TimestampGreaterThanEquals: timestamps((a, b) => a >= b),
};

const TYPE_TESTS: Record<string, (value: Json | undefined) => boolean> = {
  IsNull: (value) => value === null,
  IsPresent: (value) => value !== undefined,
  IsNumeric: (value) => typeof value === 'number',
  IsString: (value) => typeof value === 'string',
  IsBoolean: (value) => typeof value === 'boolean',
  IsTimestamp: (value) => timestamp(value ?? null) !== undefined,
};

/** A rule's fields other than its operator (a top-level rule's Next and Assign). */
const NOT_OPERATORS: ReadonlySet<string> = new Set(['Variable', 'Next', 'Comment', 'Assign']);

/** Throws a plain Error naming the first rule that is not one the language has. */
export function checkRule(rule: unknown, top = true): void {
  if (!isPlainObject(rule)) throw new Error('a Choice rule must be an object');
  const keys = Object.keys(rule).filter((key) => key !== 'Comment' && !(top && key === 'Next'));
  if (top && typeof rule.Next !== 'string') throw new Error('a Choice rule needs Next');
  for (const combinator of ['And', 'Or'] as const) {
    if (rule[combinator] !== undefined) {
      if (!Array.isArray(rule[combinator]) || keys.length !== 1)
        throw new Error(`${combinator} takes an array of rules, alone`);
      return (rule[combinator] as unknown[]).forEach((inner) => checkRule(inner, false));
    }
  }
  if (rule.Not !== undefined) {
    if (keys.length !== 1) throw new Error('Not takes one rule, alone');
    return checkRule(rule.Not, false);
  }
  if (typeof rule.Variable !== 'string')
    throw new Error(`a rule needs a Variable path: ${JSON.stringify(rule)}`);
  compilePath(rule.Variable);
  const operators = keys.filter((key) => key !== 'Variable');
  if (operators.length !== 1)
    throw new Error(`a rule takes exactly one operator, got ${operators.join(', ') || 'none'}`);
  const [operator] = operators;
  const base = operator.replace(/Path$/, '');
  if (operator.endsWith('Path') && COMPARISONS[base]) {
    if (base === 'StringMatches') throw new Error('StringMatches has no Path form');
    compilePath(String(rule[operator]));
  } else if (!COMPARISONS[operator] && !TYPE_TESTS[operator]) {
    throw new Error(`${operator} is not a Choice operator of the Amazon States Language`);
  }
}

/** Whether `rule` holds for `input`. */
export function ruleMatches(rule: Record<string, Json>, input: Json, context: Json): boolean {
  if (Array.isArray(rule.And))
    return rule.And.every((r) => ruleMatches(r as Record<string, Json>, input, context));
  if (Array.isArray(rule.Or))
    return rule.Or.some((r) => ruleMatches(r as Record<string, Json>, input, context));
  if (rule.Not !== undefined) return !ruleMatches(rule.Not as Record<string, Json>, input, context);
  const variable = String(rule.Variable);
  const value = lookUp(variable, input, context);
  const operator = Object.keys(rule).find((key) => !NOT_OPERATORS.has(key))!;
  if (TYPE_TESTS[operator]) return TYPE_TESTS[operator](value) === rule[operator];
  if (value === undefined) {
    throw runtimeError(
      `Invalid path '${variable}': The choice state's condition path references an invalid value.`,
    );
  }
  if (operator.endsWith('Path') && COMPARISONS[operator.replace(/Path$/, '')]) {
    const path = String(rule[operator]);
    const operand = lookUp(path, input, context);
    if (operand === undefined) {
      throw runtimeError(
        `Invalid path '${path}': The choice state's condition path references an invalid value.`,
      );
    }
    return COMPARISONS[operator.replace(/Path$/, '')](value, operand);
  }
  return COMPARISONS[operator](value, rule[operator]);
}

/** StringMatches: `*` matches any run of characters, `\*` a star, `\\` a backslash. */
function wildcard(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]);
    else source += c === '*' ? '.*' : escape(c);
  }
  return new RegExp(`^${source}$`, 's');
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
