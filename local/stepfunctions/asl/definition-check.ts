import { isPlainObject } from '../../cloudformation/intrinsics';
import { TemplateError } from '../../cloudformation/template';
import type { AslState, StateMachineDefinition } from '../definitions';
import { checkRule } from './choice-rules';
import { jsonataText } from './jsonata';
import { checkExpression, checkPayload, compilePath, compileReferencePath } from './paths';

/**
 * What the local engine runs, checked when a definition loads: every state type and field of the
 * Amazon States Language it implements, in either query language (JSONPath, or JSONata for the
 * machine or a state), with workflow variables (Assign). Anything else (an unknown state type or
 * field, a malformed path, intrinsic or JSONata expression, a Next that names no state) is refused
 * there, naming the state, so a definition is never silently run differently from AWS.
 */

export type QueryLanguage = 'JSONPath' | 'JSONata';

const COMMON = ['Type', 'Comment', 'QueryLanguage'];
const FLOW = ['Next', 'End'];
const IO = ['InputPath', 'OutputPath'];
const FIELDS: Record<string, readonly string[]> = {
  Pass: [...COMMON, ...FLOW, ...IO, 'ResultPath', 'Parameters', 'Result', 'Assign'],
  Task: [
    ...COMMON,
    ...FLOW,
    ...IO,
    'Assign',
    'ResultPath',
    'Parameters',
    'ResultSelector',
    'Resource',
    'TimeoutSeconds',
    'TimeoutSecondsPath',
    'HeartbeatSeconds',
    'HeartbeatSecondsPath',
    'Retry',
    'Catch',
  ],
  Choice: [...COMMON, ...IO, 'Choices', 'Default', 'Assign'],
  Wait: [...COMMON, ...FLOW, ...IO, 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath', 'Assign'],
  Succeed: [...COMMON, ...IO],
  Fail: [...COMMON, 'Error', 'ErrorPath', 'Cause', 'CausePath'],
  Parallel: [
    ...COMMON,
    ...FLOW,
    ...IO,
    'Assign',
    'ResultPath',
    'Parameters',
    'ResultSelector',
    'Branches',
    'Retry',
    'Catch',
  ],
  Map: [
    ...COMMON,
    ...FLOW,
    ...IO,
    'Assign',
    'ResultPath',
    'Parameters',
    'ResultSelector',
    'ItemsPath',
    'ItemSelector',
    'ItemProcessor',
    'Iterator',
    'MaxConcurrency',
    'ItemReader',
    'ToleratedFailurePercentage',
    'ToleratedFailureCount',
    'Label',
    'Retry',
    'Catch',
  ],
};
/** A JSONata state's fields: Arguments and Output in place of the five JSONPath ones. */
const JSONATA_FIELDS: Record<string, readonly string[]> = {
  Pass: [...COMMON, ...FLOW, 'Output', 'Assign'],
  Task: [
    ...COMMON,
    ...FLOW,
    'Resource',
    'Arguments',
    'Output',
    'Assign',
    'TimeoutSeconds',
    'HeartbeatSeconds',
    'Retry',
    'Catch',
  ],
  Choice: [...COMMON, 'Choices', 'Default', 'Output', 'Assign'],
  Wait: [...COMMON, ...FLOW, 'Seconds', 'Timestamp', 'Output', 'Assign'],
  Succeed: [...COMMON, 'Output'],
  Fail: [...COMMON, 'Error', 'Cause'],
  Parallel: [...COMMON, ...FLOW, 'Branches', 'Arguments', 'Output', 'Assign', 'Retry', 'Catch'],
  Map: [
    ...COMMON,
    ...FLOW,
    'Items',
    'ItemSelector',
    'ItemProcessor',
    'Iterator',
    'MaxConcurrency',
    'Output',
    'Assign',
    'Retry',
    'Catch',
  ],
};
/** A variable's name, as `$name` reads it in JSONata and in a JSONPath path; `states` is `$states`. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const MACHINE_FIELDS = [
  'StartAt',
  'States',
  'Comment',
  'TimeoutSeconds',
  'Version',
  'QueryLanguage',
  'ProcessorConfig',
];

export interface CheckOptions {
  /** `EXPRESS` refuses `.sync` and `.waitForTaskToken`, as Step Functions does. @default 'STANDARD' */
  readonly type?: 'STANDARD' | 'EXPRESS';
  /** Checks a Task's Resource (the integrations served); throws naming the state. */
  readonly checkTask?: (name: string, state: AslState) => void;
  /** Parses a JSONata expression (once), throwing a plain Error naming the problem. */
  readonly compileJsonata?: (text: string) => void;
  /** Told each JSONata state (by the machine's QueryLanguage or its own). */
  readonly jsonataState?: (name: string, state: AslState) => void;
}

export function checkDefinition(
  definition: StateMachineDefinition,
  where: string,
  options: CheckOptions = {},
): void {
  const refuse = (state: string, why: string) =>
    new TemplateError(
      `${where}: state "${state}" ${why}; the local Step Functions refuses it as it cannot run it as AWS does`,
    );
  const language = definition.QueryLanguage ?? 'JSONPath';
  if (language !== 'JSONPath' && language !== 'JSONata') {
    throw refuse(
      String(definition.StartAt),
      `belongs to a machine with the QueryLanguage ${String(language)}`,
    );
  }
  checkMachine(definition, where, options, refuse, { language, top: language, outer: new Set() });
}

/** Where a machine (the top one, a Map's ItemProcessor, a Parallel branch) sits. */
interface MachineScope {
  /** Its states' QueryLanguage unless they set their own. */
  readonly language: QueryLanguage;
  /** The top-level machine's: a JSONata machine takes no JSONPath state. */
  readonly top: QueryLanguage;
  /** The variables the machines around it assign: an inner scope may not assign them. */
  readonly outer: ReadonlySet<string>;
}

function checkMachine(
  machine: StateMachineDefinition,
  where: string,
  options: CheckOptions,
  refuse: (state: string, why: string) => TemplateError,
  scope: MachineScope,
): void {
  for (const key of Object.keys(machine)) {
    if (!MACHINE_FIELDS.includes(key))
      throw refuse(String(machine.StartAt), `belongs to a machine with the unknown field ${key}`);
  }
  if (
    typeof machine.StartAt !== 'string' ||
    !isPlainObject(machine.States) ||
    !machine.States[machine.StartAt]
  ) {
    throw new TemplateError(
      `${where}: StartAt ${JSON.stringify(machine.StartAt)} names no state of the machine`,
    );
  }
  const names = new Set(Object.keys(machine.States));
  for (const [name, state] of Object.entries(machine.States)) {
    const fail = (why: string) => refuse(name, why);
    if (!isPlainObject(state) || typeof state.Type !== 'string') throw fail('has no Type');
    const language = state.QueryLanguage ?? scope.language;
    if (language !== 'JSONPath' && language !== 'JSONata')
      throw fail(`has the QueryLanguage ${String(language)} (JSONPath or JSONata)`);
    if (scope.top === 'JSONata' && language === 'JSONPath')
      throw fail(
        `has 'QueryLanguage' 'JSONPath', which it can not be if set to 'JSONata' for whole state machine`,
      );
    const allowed = (language === 'JSONata' ? JSONATA_FIELDS : FIELDS)[state.Type];
    if (!allowed)
      throw fail(`has the unknown state type ${state.Type} (known: ${Object.keys(FIELDS).join(', ')})`);
    for (const key of Object.keys(state)) {
      if (!allowed.includes(key))
        throw fail(`has the field ${key}, which a ${language} ${state.Type} state does not take here`);
    }
    try {
      if (language === 'JSONata') {
        checkJsonataState(state, options.compileJsonata ?? (() => undefined));
        options.jsonataState?.(name, state);
      } else checkState(state);
      checkNext(state, names);
      for (const variable of assignedNames(state)) {
        if (scope.outer.has(variable))
          throw new Error(
            `assigns $${variable}, a variable of an outer scope, which a Map or Parallel inside can only read`,
          );
      }
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      throw fail(`is malformed: ${(error as Error).message}`);
    }
    if (state.Type === 'Task') {
      const resource = String(state.Resource);
      if (options.type === 'EXPRESS' && /\.(sync(:2)?|waitForTaskToken)$/.test(resource)) {
        throw fail(
          `calls ${resource}: an EXPRESS state machine supports neither .sync nor .waitForTaskToken`,
        );
      }
      options.checkTask?.(name, state);
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (!isPlainObject(processor)) throw fail('has no ItemProcessor');
      const config = isPlainObject(processor.ProcessorConfig) ? processor.ProcessorConfig : {};
      const distributed = config.Mode === 'DISTRIBUTED';
      if (state.ItemReader !== undefined && !distributed)
        throw fail('has an ItemReader, which only a DISTRIBUTED Map takes');
      if (state.ItemReader !== undefined) checkItemReader(state.ItemReader, fail);
      if (distributed && language === 'JSONata')
        throw fail('is a DISTRIBUTED Map in JSONata, which the local Step Functions runs in JSONPath only');
      const childType = distributed && config.ExecutionType === 'EXPRESS' ? 'EXPRESS' : options.type;
      checkMachine(
        processor as StateMachineDefinition,
        where,
        { ...options, type: childType },
        refuse,
        innerScope(processor as StateMachineDefinition, scope, machine),
      );
    }
    if (state.Type === 'Parallel') {
      if (!Array.isArray(state.Branches) || state.Branches.length === 0) throw fail('has no Branches');
      for (const branch of state.Branches)
        checkMachine(
          branch as StateMachineDefinition,
          where,
          options,
          refuse,
          innerScope(branch as StateMachineDefinition, scope, machine),
        );
    }
  }
}

function checkState(state: AslState): void {
  for (const field of ['InputPath', 'OutputPath', 'ItemsPath']) {
    if (typeof state[field] === 'string') compilePath(state[field] as string);
  }
  if (typeof state.ResultPath === 'string') compileReferencePath(state.ResultPath);
  for (const field of ['Parameters', 'ResultSelector', 'ItemSelector']) checkPayload(state[field], field);
  for (const field of ['ErrorPath', 'CausePath']) {
    if (state[field] !== undefined) checkExpression(String(state[field]), field);
  }
  for (const field of ['TimeoutSecondsPath', 'HeartbeatSecondsPath', 'SecondsPath', 'TimestampPath']) {
    if (state[field] !== undefined) compilePath(String(state[field]));
  }
  for (const field of ['TimeoutSeconds', 'HeartbeatSeconds']) {
    const value = state[field];
    if (value !== undefined && !(Number.isInteger(value) && (value as number) > 0)) {
      throw new Error(`${field} must be a positive integer`);
    }
  }
  if (state.Type === 'Choice') {
    if (!Array.isArray(state.Choices) || state.Choices.length === 0) throw new Error('has no Choices');
    for (const rule of state.Choices) {
      const { Assign, ...test } = rule as Record<string, unknown>;
      checkRule(test);
      checkPathAssign(Assign);
    }
  }
  checkPathAssign(state.Assign);
  if (state.Type === 'Wait') {
    const given = ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'].filter(
      (f) => state[f] !== undefined,
    );
    if (given.length !== 1)
      throw new Error('needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath');
  }
  checkRetry(state);
  for (const catcher of (state.Catch as Array<Record<string, unknown>> | undefined) ?? []) {
    checkCatcher(catcher, ['ResultPath', 'Assign']);
    if (typeof catcher.ResultPath === 'string') compileReferencePath(catcher.ResultPath);
    checkPathAssign(catcher.Assign);
  }
}

/** A JSONata state: every `{% … %}` parses, `$states.result` and `.errorOutput` only where AWS has them. */
function checkJsonataState(state: AslState, compile: (text: string) => void): void {
  const check = (value: unknown, field: string, has: { result?: boolean; errorOutput?: boolean } = {}) =>
    checkJsonataValue(value, field, compile, has);
  const hasResult = ['Task', 'Parallel', 'Map'].includes(state.Type);
  for (const field of ['Arguments', 'Items', 'ItemSelector', 'Error', 'Cause']) check(state[field], field);
  check(state.Output, 'Output', { result: hasResult });
  checkJsonataAssign(state.Assign, compile, { result: hasResult });
  for (const field of ['TimeoutSeconds', 'HeartbeatSeconds', 'MaxConcurrency', 'Seconds', 'Timestamp']) {
    const value = state[field];
    if (value === undefined) continue;
    if (jsonataText(value) !== undefined) check(value, field);
    else if (
      field === 'Timestamp' ? typeof value !== 'string' : !(Number.isInteger(value) && (value as number) >= 0)
    )
      throw new Error(
        `${field} must be ${field === 'Timestamp' ? 'a string' : 'a whole number'} or a {% JSONata %} expression`,
      );
  }
  for (const field of ['TimeoutSeconds', 'HeartbeatSeconds']) {
    if (typeof state[field] === 'number' && (state[field] as number) <= 0)
      throw new Error(`${field} must be a positive integer`);
  }
  if (state.Type === 'Wait' && ['Seconds', 'Timestamp'].filter((f) => state[f] !== undefined).length !== 1)
    throw new Error('needs exactly one of Seconds and Timestamp');
  if (state.Type === 'Choice') {
    if (!Array.isArray(state.Choices) || state.Choices.length === 0) throw new Error('has no Choices');
    for (const rule of state.Choices as unknown[]) {
      if (!isPlainObject(rule)) throw new Error('a Choice rule must be an object');
      const unknown = Object.keys(rule).filter(
        (k) => !['Condition', 'Next', 'Output', 'Assign', 'Comment'].includes(k),
      );
      if (unknown.length)
        throw new Error(`a JSONata Choice rule takes Condition, Next, Output and Assign, not ${unknown[0]}`);
      if (typeof rule.Condition !== 'boolean' && jsonataText(rule.Condition) === undefined)
        throw new Error('a JSONata Choice rule needs a Condition: true, false or a {% JSONata %} expression');
      check(rule.Condition, 'Condition');
      check(rule.Output, 'Output');
      checkJsonataAssign(rule.Assign, compile, {});
    }
  }
  checkRetry(state);
  for (const catcher of (state.Catch as Array<Record<string, unknown>> | undefined) ?? []) {
    checkCatcher(catcher, ['Output', 'Assign']);
    check(catcher.Output, 'Output', { errorOutput: true });
    checkJsonataAssign(catcher.Assign, compile, { errorOutput: true });
  }
}

function checkJsonataValue(
  value: unknown,
  field: string,
  compile: (text: string) => void,
  has: { result?: boolean; errorOutput?: boolean },
): void {
  if (Array.isArray(value)) return value.forEach((item) => checkJsonataValue(item, field, compile, has));
  if (isPlainObject(value)) {
    return Object.values(value).forEach((item) => checkJsonataValue(item, field, compile, has));
  }
  const text = jsonataText(value);
  if (text === undefined) return;
  compile(text);
  for (const name of ['result', 'errorOutput'] as const) {
    if (!has[name] && new RegExp(`\\$states\\.${name}\\b`).test(text))
      throw new Error(`${field} reads $states.${name}, which it does not have`);
  }
}

function checkJsonataAssign(
  assign: unknown,
  compile: (text: string) => void,
  has: { result?: boolean; errorOutput?: boolean },
): void {
  if (assign === undefined) return;
  if (!isPlainObject(assign)) throw new Error('Assign must be an object of variables');
  for (const name of Object.keys(assign)) checkVariableName(name);
  checkJsonataValue(assign, 'Assign', compile, has);
}

/** A JSONPath Assign: `name` takes a literal, `name.$` a path or intrinsic function. */
function checkPathAssign(assign: unknown): void {
  if (assign === undefined) return;
  if (!isPlainObject(assign)) throw new Error('Assign must be an object of variables');
  for (const key of Object.keys(assign)) checkVariableName(key.replace(/\.\$$/, ''));
  checkPayload(assign, 'Assign');
}

function checkVariableName(name: string): void {
  if (!VARIABLE_NAME.test(name) || name === 'states') {
    throw new Error(
      `Assign names the variable "${name}", which $${name} cannot read: use a letter or _ then letters, digits or _ (and not "states")`,
    );
  }
}

/** The variables a state (with its Choice rules and Catch) assigns. */
function assignedNames(state: AslState): string[] {
  const fields = [
    state.Assign,
    ...((state.Choices as Array<Record<string, unknown>> | undefined) ?? []).map((rule) => rule?.Assign),
    ...((state.Catch as Array<Record<string, unknown>> | undefined) ?? []).map((catcher) => catcher?.Assign),
  ];
  return fields.flatMap((assign) =>
    isPlainObject(assign) ? Object.keys(assign).map((key) => key.replace(/\.\$$/, '')) : [],
  );
}

function innerScope(
  inner: StateMachineDefinition,
  scope: MachineScope,
  around: StateMachineDefinition,
): MachineScope {
  const outer = new Set(scope.outer);
  for (const state of Object.values(around.States))
    if (isPlainObject(state)) assignedNames(state).forEach((n) => outer.add(n));
  const language = inner.QueryLanguage ?? scope.language;
  return { language: language as QueryLanguage, top: scope.top, outer };
}

function checkNext(state: AslState, names: ReadonlySet<string>): void {
  const next = (target: unknown, field: string) => {
    if (typeof target !== 'string' || !names.has(target))
      throw new Error(`${field} ${JSON.stringify(target)} names no state`);
  };
  if (['Pass', 'Task', 'Wait', 'Parallel', 'Map'].includes(state.Type)) {
    if ((state.End === true) === (state.Next !== undefined))
      throw new Error('needs exactly one of Next and End: true');
    if (state.Next !== undefined) next(state.Next, 'Next');
  }
  if (state.Type === 'Choice') {
    for (const rule of state.Choices as Array<{ Next: unknown }>) next(rule.Next, 'Next');
    if (state.Default !== undefined) next(state.Default, 'Default');
  }
  for (const catcher of (state.Catch as Array<{ Next: unknown }> | undefined) ?? [])
    next(catcher.Next, 'Catch Next');
}

function checkRetry(state: AslState): void {
  for (const retrier of (state.Retry as unknown[] | undefined) ?? []) {
    if (!isPlainObject(retrier) || !Array.isArray(retrier.ErrorEquals))
      throw new Error('a Retry entry needs ErrorEquals');
    const unknown = Object.keys(retrier).filter(
      (k) =>
        ![
          'ErrorEquals',
          'IntervalSeconds',
          'MaxAttempts',
          'BackoffRate',
          'MaxDelaySeconds',
          'JitterStrategy',
          'Comment',
        ].includes(k),
    );
    if (unknown.length) throw new Error(`a Retry entry has the unknown field ${unknown[0]}`);
  }
}

function checkCatcher(catcher: unknown, fields: readonly string[]): void {
  if (!isPlainObject(catcher) || !Array.isArray(catcher.ErrorEquals))
    throw new Error('a Catch entry needs ErrorEquals');
  const unknown = Object.keys(catcher).filter(
    (k) => ![...fields, 'ErrorEquals', 'Next', 'Comment'].includes(k),
  );
  if (unknown.length) throw new Error(`a Catch entry has the unknown field ${unknown[0]}`);
}

function checkItemReader(reader: unknown, fail: (why: string) => TemplateError): void {
  if (!isPlainObject(reader) || !/:states:::s3:listObjectsV2$/.test(String(reader.Resource))) {
    throw fail('has an ItemReader other than s3:listObjectsV2 (the only one the local Step Functions reads)');
  }
  const unknown = Object.keys(reader).filter((k) => !['Resource', 'Parameters', 'ReaderConfig'].includes(k));
  if (unknown.length) throw fail(`has an ItemReader with the unknown field ${unknown[0]}`);
  checkPayload(reader.Parameters, 'ItemReader.Parameters');
}
