import { isPlainObject } from '../../cloudformation/intrinsics';
import { TemplateError } from '../../cloudformation/template';
import type { AslState, StateMachineDefinition } from '../definitions';
import { checkRule } from './choice-rules';
import { checkExpression, checkPayload, compilePath, compileReferencePath } from './paths';

/**
 * What the local engine runs, checked when a definition loads: every state type and field of the
 * Amazon States Language (JSONPath) it implements. Anything else (an unknown state type or field,
 * JSONata, variables, a malformed path or intrinsic, a Next that names no state) is refused there,
 * naming the state, so a definition is never silently run differently from AWS.
 */

const COMMON = ['Type', 'Comment', 'QueryLanguage'];
const FLOW = ['Next', 'End'];
const IO = ['InputPath', 'OutputPath'];
const FIELDS: Record<string, readonly string[]> = {
  Pass: [...COMMON, ...FLOW, ...IO, 'ResultPath', 'Parameters', 'Result'],
  Task: [
    ...COMMON,
    ...FLOW,
    ...IO,
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
  Choice: [...COMMON, ...IO, 'Choices', 'Default'],
  Wait: [...COMMON, ...FLOW, ...IO, 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'],
  Succeed: [...COMMON, ...IO],
  Fail: [...COMMON, 'Error', 'ErrorPath', 'Cause', 'CausePath'],
  Parallel: [
    ...COMMON,
    ...FLOW,
    ...IO,
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
  checkMachine(definition, where, options, refuse);
}

function checkMachine(
  machine: StateMachineDefinition,
  where: string,
  options: CheckOptions,
  refuse: (state: string, why: string) => TemplateError,
): void {
  for (const key of Object.keys(machine)) {
    if (!MACHINE_FIELDS.includes(key))
      throw refuse(String(machine.StartAt), `belongs to a machine with the unknown field ${key}`);
  }
  if (machine.QueryLanguage !== undefined && machine.QueryLanguage !== 'JSONPath') {
    throw refuse(
      String(machine.StartAt),
      `uses QueryLanguage ${String(machine.QueryLanguage)} (only JSONPath is implemented)`,
    );
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
    const allowed = FIELDS[state.Type];
    if (!allowed)
      throw fail(`has the unknown state type ${state.Type} (known: ${Object.keys(FIELDS).join(', ')})`);
    for (const key of Object.keys(state)) {
      if (!allowed.includes(key))
        throw fail(`has the field ${key}, which a ${state.Type} state does not take here`);
    }
    if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath') {
      throw fail(`uses QueryLanguage ${String(state.QueryLanguage)} (only JSONPath is implemented)`);
    }
    try {
      checkState(state, names);
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
      const childType = distributed && config.ExecutionType === 'EXPRESS' ? 'EXPRESS' : options.type;
      checkMachine(processor as StateMachineDefinition, where, { ...options, type: childType }, refuse);
    }
    if (state.Type === 'Parallel') {
      if (!Array.isArray(state.Branches) || state.Branches.length === 0) throw fail('has no Branches');
      for (const branch of state.Branches)
        checkMachine(branch as StateMachineDefinition, where, options, refuse);
    }
  }
}

function checkState(state: AslState, names: ReadonlySet<string>): void {
  const next = (target: unknown, field: string) => {
    if (typeof target !== 'string' || !names.has(target))
      throw new Error(`${field} ${JSON.stringify(target)} names no state`);
  };
  if (['Pass', 'Task', 'Wait', 'Parallel', 'Map'].includes(state.Type)) {
    if ((state.End === true) === (state.Next !== undefined))
      throw new Error('needs exactly one of Next and End: true');
    if (state.Next !== undefined) next(state.Next, 'Next');
  }
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
      checkRule(rule);
      next((rule as { Next: unknown }).Next, 'Next');
    }
    if (state.Default !== undefined) next(state.Default, 'Default');
  }
  if (state.Type === 'Wait') {
    const given = ['Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'].filter(
      (f) => state[f] !== undefined,
    );
    if (given.length !== 1)
      throw new Error('needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath');
  }
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
  for (const catcher of (state.Catch as unknown[] | undefined) ?? []) {
    if (!isPlainObject(catcher) || !Array.isArray(catcher.ErrorEquals))
      throw new Error('a Catch entry needs ErrorEquals');
    const unknown = Object.keys(catcher).filter(
      (k) => !['ErrorEquals', 'ResultPath', 'Next', 'Comment'].includes(k),
    );
    if (unknown.length) throw new Error(`a Catch entry has the unknown field ${unknown[0]}`);
    if (typeof catcher.ResultPath === 'string') compileReferencePath(catcher.ResultPath);
    next(catcher.Next, 'Catch Next');
  }
}

function checkItemReader(reader: unknown, fail: (why: string) => TemplateError): void {
  if (!isPlainObject(reader) || !/:states:::s3:listObjectsV2$/.test(String(reader.Resource))) {
    throw fail('has an ItemReader other than s3:listObjectsV2 (the only one the local Step Functions reads)');
  }
  const unknown = Object.keys(reader).filter((k) => !['Resource', 'Parameters', 'ReaderConfig'].includes(k));
  if (unknown.length) throw fail(`has an ItemReader with the unknown field ${unknown[0]}`);
  checkPayload(reader.Parameters, 'ItemReader.Parameters');
}
