// aws-local-stepfunctions (the oracle) calls Promise.withResolvers, which Node 20 lacks.
import 'core-js/actual/promise/with-resolvers';

import { StateMachine } from 'aws-local-stepfunctions';

import { VirtualClock } from '../../../local/clock';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { LocalStateMachine } from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

/**
 * The engine against aws-local-stepfunctions, an independent implementation of the Amazon States
 * Language, on what both support: paths, payload templates, intrinsic functions, Choice rules,
 * Pass/Succeed/Fail and inline Maps. Same definition, same input: same outcome. (Left out where the
 * oracle departs from AWS: its `IsNumeric: false` never matches, where AWS matches any non-number.)
 * JSONata and variables are not in the oracle's installed version (3.0.0): jsonata.test.ts asserts
 * them against the outputs, errors and histories AWS documents and records.
 */

const CASES: Record<string, { definition: Record<string, unknown>; inputs: Json[] }> = {
  'paths and intrinsics': {
    definition: {
      StartAt: 'Shape',
      States: {
        Shape: {
          Type: 'Pass',
          InputPath: '$.order',
          Parameters: {
            'id.$': '$.id',
            'text.$': "States.Format('{} + {} = {}', $.a, $.b, States.MathAdd($.a, $.b))",
            'parsed.$': 'States.StringToJson($.json)',
            'string.$': 'States.JsonToString($.items)',
            'array.$': 'States.Array($.a, $.b, $.id)',
            'length.$': 'States.ArrayLength($.items)',
            'item.$': 'States.ArrayGetItem($.items, 1)',
            'contains.$': 'States.ArrayContains($.items, 3)',
            'range.$': 'States.ArrayRange(1, 9, 2)',
            'chunks.$': 'States.ArrayPartition($.items, 2)',
            'unique.$': 'States.ArrayUnique($.dupes)',
            'split.$': "States.StringSplit($.csv, ',')",
            'b64.$': 'States.Base64Encode($.id)',
            'hash.$': "States.Hash($.id, 'SHA-256')",
            'merged.$': 'States.JsonMerge($.left, $.right, false)',
            'wild.$': '$.items[*]',
          },
          ResultPath: '$.shaped',
          OutputPath: '$.shaped',
          End: true,
        },
      },
    },
    inputs: [
      {
        order: {
          id: 'o-7',
          a: 2,
          b: 3,
          json: '{"k":[1,{"v":null}]}',
          items: [1, 2, 3],
          dupes: [1, 1, 'a', 'a'],
          csv: 'x,y,,z',
          left: { a: 1, b: 1 },
          right: { b: 2 },
        },
      },
    ],
  },
  'Choice rules': {
    definition: {
      StartAt: 'Decide',
      States: {
        Decide: {
          Type: 'Choice',
          Choices: [
            {
              And: [
                { Variable: '$.kind', StringMatches: 'img-*.png' },
                { Not: { Variable: '$.big', IsPresent: true } },
              ],
              Next: 'Image',
            },
            {
              Or: [
                { Variable: '$.n', NumericGreaterThanPath: '$.limit' },
                { Variable: '$.flag', BooleanEquals: true },
              ],
              Next: 'Big',
            },
            { Variable: '$.at', TimestampLessThanEquals: '2026-01-01T00:00:00Z', Next: 'Old' },
            { Variable: '$.n', IsNumeric: false, Next: 'Odd' },
          ],
          Default: 'Other',
        },
        Image: { Type: 'Pass', Result: 'image', End: true },
        Big: { Type: 'Pass', Result: 'big', End: true },
        Old: { Type: 'Pass', Result: 'old', End: true },
        Odd: { Type: 'Fail', Error: 'Odd.Input', Cause: 'n is not a number' },
        Other: { Type: 'Succeed' },
      },
    },
    inputs: [
      { kind: 'img-1.png', n: 1, limit: 2 },
      { kind: 'img-1.png', big: true, n: 3, limit: 2 },
      { kind: 'doc', n: 1, limit: 2, flag: true },
      { kind: 'doc', n: 1, limit: 2, flag: false, at: '2025-05-05T10:00:00Z' },
      { kind: 'doc', n: 1, limit: 2, flag: false, at: '2027-05-05T10:00:00Z' },
    ],
  },
  'inline Map with ItemSelector and ResultSelector': {
    definition: {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.keys',
          ItemSelector: {
            'key.$': '$$.Map.Item.Value',
            'index.$': '$$.Map.Item.Index',
            'bucket.$': '$.bucket',
          },
          ItemProcessor: {
            StartAt: 'Name',
            States: {
              Name: {
                Type: 'Pass',
                Parameters: { 'name.$': "States.Format('{}/{}#{}', $.bucket, $.key, $.index)" },
                End: true,
              },
            },
          },
          ResultSelector: { 'names.$': '$[*].name' },
          ResultPath: '$.out',
          End: true,
        },
      },
    },
    inputs: [{ bucket: 'b', keys: ['a', 'c d', 'ü'] }],
  },
};

async function ours(definition: StateMachineDefinition, input: Json) {
  const clock = new VirtualClock(0);
  const outcome = await new LocalStateMachine(definition, { clock, tokens: new TaskTokens(clock) }).run(
    input,
    {
      identity: { executionArn: 'arn:e', name: 'e', stateMachineArn: 'arn:m', startTime: '' },
      history: new ExecutionHistory(clock),
    },
  );
  return outcome.status === 'SUCCEEDED'
    ? { output: outcome.output }
    : { error: outcome.error, cause: outcome.cause };
}

async function oracle(definition: StateMachineDefinition, input: Json) {
  const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
  try {
    return { output: await new StateMachine(copy(definition) as never).run(copy(input) as never).result };
  } catch (error) {
    const inner = (error as Error & { cause?: Error }).cause ?? (error as Error);
    return { error: inner.name, cause: inner.message };
  }
}

for (const [name, { definition, inputs }] of Object.entries(CASES)) {
  test.each(inputs.map((input) => [JSON.stringify(input), input]))(`${name}: %s`, async (_, input) => {
    const machine = definition as StateMachineDefinition;
    expect(await ours(machine, input)).toEqual(await oracle(machine, input));
  });
}
