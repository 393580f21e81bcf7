import type { AslState, StateMachineDefinition } from '../stepfunctions/definitions';
import { checkDynamoDbParameters } from './dynamodb-items';

/**
 * The few pieces of the Amazon States Language the per-object workflow uses, evaluated the way
 * Step Functions does, so the simulator walks the synthesized definition itself: reference paths
 * (`$.a.b`, `$.a.Messages[0].Body`, the context object's `$$.Task.Token`), `ResultSelector`,
 * `ResultPath`, Pass states, Choice rules, Retry (attempts, backoff, cap, full jitter), Catch and a
 * Task's `TimeoutSeconds`. Anything else is refused up front with the state's name, so a workflow the
 * simulator cannot model is never silently misread.
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

/** The Task resources the simulator runs, and the Parameters each takes (`key` and `key.$` alike). */
export const TASK_RESOURCES = {
  'ecs:runTask.sync': undefined,
  'dynamodb:updateItem': [
    'TableName',
    'Key',
    'UpdateExpression',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ReturnValues',
  ],
  'aws-sdk:dynamodb:updateItem': [
    'TableName',
    'Key',
    'UpdateExpression',
    'ConditionExpression',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ReturnValues',
  ],
  'aws-sdk:dynamodb:deleteItem': [
    'TableName',
    'Key',
    'ConditionExpression',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
  ],
  'aws-sdk:dynamodb:putItem.waitForTaskToken': ['TableName', 'Item'],
  'aws-sdk:dynamodb:query': [
    'TableName',
    'IndexName',
    'KeyConditionExpression',
    'ExpressionAttributeNames',
    'ExpressionAttributeValues',
    'ConsistentRead',
    'Limit',
    'ScanIndexForward',
  ],
  'sqs:sendMessage.waitForTaskToken': ['QueueUrl', 'MessageBody'],
  'aws-sdk:sqs:receiveMessage': ['QueueUrl', 'MaxNumberOfMessages', 'WaitTimeSeconds', 'VisibilityTimeout'],
  'aws-sdk:sqs:deleteMessage': ['QueueUrl', 'ReceiptHandle'],
  'aws-sdk:sfn:sendTaskSuccess': ['TaskToken', 'Output'],
  'aws-sdk:sfn:sendTaskFailure': ['TaskToken', 'Error', 'Cause'],
} as const satisfies Record<string, readonly string[] | undefined>;

export type TaskResource = keyof typeof TASK_RESOURCES;

export class UnsupportedWorkflowError extends Error {
  constructor(state: string, what: string) {
    super(
      `State "${state}": ${what} is not modelled by the simulator (local/simulate/asl.ts); ` +
        `simulate a workflow of Pass, Choice, Succeed, Fail and Task states calling ${Object.keys(TASK_RESOURCES).join(', ')}`,
    );
    this.name = 'UnsupportedWorkflowError';
  }
}

/** The integration a Task's `Resource` names (`arn:aws:states:::dynamodb:updateItem` → `dynamodb:updateItem`), if the simulator runs it. */
export function taskResource(state: AslState): TaskResource | undefined {
  const integration = /^arn:[^:]+:states:::(.+)$/.exec(String(state.Resource))?.[1];
  return integration !== undefined && Object.hasOwn(TASK_RESOURCES, integration)
    ? (integration as TaskResource)
    : undefined;
}

/** The Choice operators the per-object workflow uses; any other is refused up front. */
const CHOICE_OPERATORS = new Set([
  'StringMatches',
  'IsPresent',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThanEquals',
]);

/** Throws UnsupportedWorkflowError for the first state the simulator cannot run as Step Functions would. */
export function checkSupported(definition: StateMachineDefinition): void {
  if (definition.QueryLanguage !== undefined && definition.QueryLanguage !== 'JSONPath') {
    throw new UnsupportedWorkflowError(
      String(definition.StartAt),
      `QueryLanguage ${String(definition.QueryLanguage)}`,
    );
  }
  for (const [name, state] of Object.entries(definition.States)) {
    if (!['Task', 'Pass', 'Choice', 'Succeed', 'Fail'].includes(state.Type)) {
      throw new UnsupportedWorkflowError(name, `a ${state.Type} state`);
    }
    for (const field of ['InputPath', 'OutputPath', 'Assign', 'QueryLanguage', 'HeartbeatSeconds']) {
      if (state[field] !== undefined) throw new UnsupportedWorkflowError(name, field);
    }
    if (state.Type === 'Task') checkTask(name, state);
    if (state.Type === 'Choice') {
      for (const rule of (state.Choices as Json[]) ?? []) checkRule(name, rule);
    }
  }
}

function checkTask(name: string, state: AslState): void {
  const resource = taskResource(state);
  if (resource === undefined)
    throw new UnsupportedWorkflowError(name, `Task resource ${String(state.Resource)}`);
  const accepted: readonly string[] | undefined = TASK_RESOURCES[resource];
  if (accepted === undefined) return;
  const parameters = (state.Parameters ?? {}) as Record<string, Json>;
  for (const key of Object.keys(parameters)) {
    if (!accepted.includes(key.replace(/\.\$$/, ''))) {
      throw new UnsupportedWorkflowError(name, `the ${resource} parameter ${key}`);
    }
  }
  if (/dynamodb:/.test(resource)) {
    const problem = checkDynamoDbParameters(parameters);
    if (problem) throw new UnsupportedWorkflowError(name, problem);
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

/**
 * The value at a path such as `$.error.Cause`, `$.line.Messages[0].Body` or `$.Containers[*].ExitCode`
 * (an array of each element's); undefined when absent. A path starting `$$.` reads `context`, the
 * context object (`$$.Task.Token`).
 */
export function readPath(input: Json, path: string, context: Json = {}): Json | undefined {
  const rest = path.replace(/^\$\$?/, '');
  if (!/^(?:\.[^.[\]]+|\[(?:\d+|\*)\])*$/.test(rest)) {
    throw new Error(`Path ${path} is not of the form $.a.b[0].c or $.a[*].b`);
  }
  return walk(path.startsWith('$$') ? context : input, rest.match(/\.[^.[\]]+|\[(?:\d+|\*)\]/g) ?? []);
}

function walk(value: Json | undefined, steps: readonly string[]): Json | undefined {
  if (steps.length === 0 || value === undefined) return value;
  const [step, ...rest] = steps;
  if (value === null || typeof value !== 'object') return undefined;
  if (step === '[*]') {
    if (!Array.isArray(value)) return undefined;
    return value.map((item) => walk(item, rest)).filter((item): item is Json => item !== undefined);
  }
  if (step.startsWith('['))
    return Array.isArray(value) ? walk(value[Number(step.slice(1, -1))], rest) : undefined;
  return Array.isArray(value) ? undefined : walk((value as Record<string, Json>)[step.slice(1)], rest);
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

/**
 * A payload template (Parameters, ResultSelector) filled in from `input`: `key.$` fields are paths
 * (`$$.` ones read the context object), `States.MathAdd(path, n)` (the relaunch counter),
 * `States.StringToJson(path)` (DynamoDB's numbers come back as strings) or `States.Array(path)` (the
 * launch gate's one-member sets); nested objects and arrays are
 * filled in too, the rest is literal. Other intrinsic functions (e.g. the States.Format naming the
 * result) are not evaluated and give null: nothing the simulator decides on reads them.
 */
export function payload(template: Json, input: Json, context: Json = {}): Json {
  if (Array.isArray(template)) return template.map((item) => payload(item, input, context));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(template)) {
    if (!key.endsWith('.$')) {
      out[key] = payload(value, input, context);
      continue;
    }
    out[key.slice(0, -2)] = evaluate(String(value), input, context);
  }
  return out;
}

function evaluate(expression: string, input: Json, context: Json): Json {
  const add = /^States\.MathAdd\((\$[^,]*),\s*(-?\d+)\)$/.exec(expression);
  if (add) return Number(readPath(input, add[1], context)) + Number(add[2]);
  const array = /^States\.Array\((\$[^,)]*)\)$/.exec(expression);
  if (array) return [readPath(input, array[1], context) ?? null];
  const parse = /^States\.StringToJson\((\$[^)]*)\)$/.exec(expression);
  if (parse) {
    const text = readPath(input, parse[1], context);
    if (typeof text !== 'string')
      throw new Error(`States.StringToJson(${parse[1]}): ${parse[1]} is not a string`);
    return JSON.parse(text) as Json;
  }
  if (expression.startsWith('States.')) return null;
  return readPath(input, expression, context) ?? null;
}

/** The state a Choice goes to for this input. */
export function choose(state: AslState, input: Json): string {
  for (const rule of state.Choices as Array<Record<string, Json>>) {
    if (matches(rule, input)) return String(rule.Next);
  }
  if (typeof state.Default !== 'string') throw new Error('States.NoChoiceMatched');
  return state.Default;
}

const NUMERIC: Record<string, (value: number, bound: number) => boolean> = {
  NumericLessThan: (value, bound) => value < bound,
  NumericLessThanEquals: (value, bound) => value <= bound,
  NumericGreaterThanEquals: (value, bound) => value >= bound,
};

function matches(rule: Record<string, Json>, input: Json): boolean {
  if (Array.isArray(rule.And)) return rule.And.every((r) => matches(r as Record<string, Json>, input));
  if (Array.isArray(rule.Or)) return rule.Or.some((r) => matches(r as Record<string, Json>, input));
  if (rule.Not) return !matches(rule.Not as Record<string, Json>, input);
  const value = readPath(input, String(rule.Variable));
  if ('IsPresent' in rule) return (value !== undefined) === rule.IsPresent;
  if ('StringMatches' in rule) {
    return typeof value === 'string' && wildcard(String(rule.StringMatches)).test(value);
  }
  const operator = Object.keys(NUMERIC).find((name) => name in rule)!;
  return typeof value === 'number' && NUMERIC[operator](value, Number(rule[operator]));
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
