import { StatesError } from '../../../local/stepfunctions/asl/errors';
import { applyResultPath, type Json } from '../../../local/stepfunctions/asl/paths';
import { ExecutionStopped, type TaskHandler } from '../../../local/stepfunctions/state-machine';
import { ECS, engine, machine, settle } from './engine-harness';

/**
 * The engine's Amazon States Language semantics, on a virtual clock (every time asserted exactly),
 * with `ecs:runTask.sync` served by a handler the test controls.
 */

const failing =
  (...errors: string[]): TaskHandler =>
  async () => {
    const error = errors.shift();
    if (error === undefined) return { done: true };
    throw new StatesError(error, `cause of ${error}`);
  };

describe('paths and payloads', () => {
  test('InputPath, Parameters (paths, context object, intrinsics), ResultSelector, ResultPath, OutputPath', async () => {
    const { run } = engine(
      machine({
        Shape: {
          Type: 'Pass',
          InputPath: '$.order',
          Parameters: {
            'id.$': '$.id',
            'label.$': "States.Format('order {} of {}', $.id, $$.Execution.Name)",
            'count.$': 'States.MathAdd($.n, 1)',
            'parsed.$': 'States.StringToJson($.json)',
            'items.$': 'States.ArrayLength($.items)',
            'second.$': '$.items[1].sku',
            'skus.$': '$.items[*].sku',
            literal: { 'nested.$': "$['id']" },
          },
          ResultPath: '$.shaped',
          OutputPath: '$.shaped',
          Next: 'Task',
        },
        Task: {
          Type: 'Task',
          Resource: ECS,
          Parameters: { 'label.$': '$.label' },
          ResultSelector: { 'exit.$': '$.Containers[0].ExitCode' },
          ResultPath: '$.task',
          End: true,
        },
      }),
    );
    const outcome = await run(
      { order: { id: 7, n: 1, json: '{"a":[1]}', items: [{ sku: 'x' }, { sku: 'y' }] } },
      async ({ parameters }) => ({ Containers: [{ ExitCode: 0 }], echoed: parameters }),
    );
    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      output: {
        id: 7,
        label: 'order 7 of e',
        count: 2,
        parsed: { a: [1] },
        items: 2,
        second: 'y',
        skus: ['x', 'y'],
        literal: { nested: 7 },
        task: { exit: 0 },
      },
    });
  });

  test('a path that matches nothing fails with States.Runtime, which no Catch (not even States.ALL) handles', async () => {
    const { run, history } = engine(
      machine({
        Read: {
          Type: 'Pass',
          Parameters: { 'x.$': '$.missing' },
          End: true,
        },
      }),
    );
    expect(await run({})).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    const { run: runCaught } = engine(
      machine({
        Task: {
          Type: 'Task',
          Resource: ECS,
          Parameters: { 'x.$': '$.missing' },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Succeed' },
      }),
    );
    expect(await runCaught({}, async () => ({}))).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
    });
    expect(history.events.at(-1)).toMatchObject({
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: 'States.Runtime', cause: expect.stringContaining("'$.missing'") },
    });
  });

  test('a state output above 256 KiB fails the execution with States.DataLimitExceeded, which no Catch handles', async () => {
    const { run } = engine(
      machine({
        Big: {
          Type: 'Task',
          Resource: ECS,
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Succeed' },
      }),
    );
    expect(await run({}, async () => ({ blob: 'x'.repeat(262_144) }))).toMatchObject({
      status: 'FAILED',
      error: 'States.DataLimitExceeded',
    });
  });

  test('ResultPath into a value that is not an object fails with States.ResultPathMatchFailure (catchable)', async () => {
    const { run } = engine(
      machine({
        Put: {
          Type: 'Task',
          Resource: ECS,
          ResultPath: '$.text.inner',
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      }),
    );
    expect(await run({ text: 'a string' }, async () => ({ ok: 1 }))).toMatchObject({
      status: 'SUCCEEDED',
      output: { text: 'a string', error: { Error: 'States.ResultPathMatchFailure' } },
    });
  });

  test('ResultPath leaves the input as it was, at every depth, and creates what the path lacks', () => {
    const input = { a: { b: [{ c: 1 }, { c: 2 }], keep: { d: 1 } }, other: [1, 2] };
    const before = JSON.stringify(input);
    expect(applyResultPath(input, '$.a.b[1].c', 'new')).toEqual({
      a: { b: [{ c: 1 }, { c: 'new' }], keep: { d: 1 } },
      other: [1, 2],
    });
    expect(applyResultPath(input, '$.a.made.deeper', true)).toEqual({
      a: { b: [{ c: 1 }, { c: 2 }], keep: { d: 1 }, made: { deeper: true } },
      other: [1, 2],
    });
    expect(applyResultPath(input, '$.other[0]', { x: 1 })).toEqual({
      a: input.a,
      other: [{ x: 1 }, 2],
    });
    expect(JSON.stringify(input)).toBe(before);
    expect(() => applyResultPath(input, '$.other[5].x', 1)).toThrow(/Unable to apply ResultPath/);
    expect(() => applyResultPath(input, '$.a.b[0].c.d', 1)).toThrow(/Unable to apply ResultPath/);
    expect(JSON.stringify(input)).toBe(before);
  });
});

describe('Choice', () => {
  const choice = machine({
    Decide: {
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.kind', StringMatches: 'img-*' },
            { Not: { Variable: '$.big', IsPresent: true } },
          ],
          Next: 'Image',
        },
        { Variable: '$.size', NumericGreaterThanPath: '$.limit', Next: 'Big' },
        { Variable: '$.at', TimestampLessThan: '2026-01-01T00:00:00Z', Next: 'Old' },
      ],
      Default: 'Other',
    },
    Image: { Type: 'Pass', Result: 'image', End: true },
    Big: { Type: 'Pass', Result: 'big', End: true },
    Old: { Type: 'Pass', Result: 'old', End: true },
    Other: { Type: 'Pass', Result: 'other', End: true },
  });
  test.each([
    [{ kind: 'img-1' }, 'image'],
    [{ kind: 'img-1', big: 1, size: 2, limit: 1 }, 'big'],
    [{ kind: 'doc', size: 1, limit: 1, at: '2025-12-31T23:59:59Z' }, 'old'],
    [{ kind: 'doc', size: 1, limit: 1, at: '2026-06-01T00:00:00Z' }, 'other'],
  ])('%j -> %s', async (input, output) => {
    expect(await engine(choice).run(input)).toEqual({ status: 'SUCCEEDED', output });
  });

  test('a comparison whose Variable is absent fails with States.Runtime; no rule and no Default, States.NoChoiceMatched', async () => {
    expect(await engine(choice).run({ kind: 'doc' })).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
    });
    const noDefault = machine({
      Decide: { Type: 'Choice', Choices: [{ Variable: '$.n', NumericEquals: 1, Next: 'One' }] },
      One: { Type: 'Succeed' },
    });
    expect(await engine(noDefault).run({ n: 2 })).toMatchObject({
      status: 'FAILED',
      error: 'States.NoChoiceMatched',
    });
  });
});

describe('Retry and Catch', () => {
  test('backoff: IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds; then the Catch, with its ResultPath', async () => {
    const { clock, run } = engine(
      machine({
        Launch: {
          Type: 'Task',
          Resource: ECS,
          Retry: [
            {
              ErrorEquals: ['ECS.AmazonECSException'],
              IntervalSeconds: 5,
              BackoffRate: 2,
              MaxDelaySeconds: 12,
              MaxAttempts: 3,
            },
          ],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
          End: true,
        },
        Failed: { Type: 'Pass', End: true },
      }),
    );
    const calls: number[] = [];
    const handler: TaskHandler = async () => {
      calls.push(clock.now());
      throw new StatesError('ECS.AmazonECSException', 'Rate exceeded');
    };
    const outcome = await settle(clock, run({ key: 'k' }, handler));
    // 5 s, 10 s, then 12 s (20 s capped): the 4th attempt fails for good
    expect(calls).toEqual([0, 5_000, 15_000, 27_000]);
    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      output: { key: 'k', error: { Error: 'ECS.AmazonECSException', Cause: 'Rate exceeded' } },
      at: 27_000,
    });
  });

  test('FULL jitter draws each delay uniformly below the ceiling; each retrier counts its own attempts', async () => {
    const { clock, run } = engine(
      machine({
        Launch: {
          Type: 'Task',
          Resource: ECS,
          Retry: [
            { ErrorEquals: ['A'], IntervalSeconds: 10, MaxAttempts: 1, JitterStrategy: 'FULL' },
            { ErrorEquals: ['States.ALL'], IntervalSeconds: 4, MaxAttempts: 2 },
          ],
          End: true,
        },
      }),
      { random: () => 0.25 },
    );
    const calls: number[] = [];
    const errors = ['A', 'B', 'B', 'B'];
    const outcome = await settle(
      clock,
      run({}, async () => {
        calls.push(clock.now());
        throw new StatesError(errors.shift()!, 'x');
      }),
    );
    // A: 0.25 x 10 s; B: 4 s, 8 s; the third B exhausts its retrier
    expect(calls).toEqual([0, 2_500, 6_500, 14_500]);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'B', at: 14_500 });
  });

  test('States.TaskFailed matches a task error but not States.Timeout; MaxAttempts 0 never retries', async () => {
    const definition = machine({
      Run: {
        Type: 'Task',
        Resource: ECS,
        TimeoutSeconds: 60,
        Retry: [{ ErrorEquals: ['Sfn.TaskTimedOutException'], MaxAttempts: 0 }],
        Catch: [
          { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.failed', Next: 'Done' },
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.timedOut', Next: 'Done' },
        ],
        End: true,
      },
      Done: { Type: 'Succeed' },
    });
    expect(await engine(definition).run({}, failing('States.TaskFailed'))).toMatchObject({
      output: { failed: { Error: 'States.TaskFailed' } },
    });
    const { clock, run, history } = engine(definition);
    const outcome = await settle(
      clock,
      run({}, () => new Promise(() => undefined)),
    );
    expect(outcome).toMatchObject({ output: { timedOut: { Error: 'States.Timeout' } }, at: 60_000 });
    expect(history.events.map((e) => e.type)).toContain('TaskTimedOut');
  });
});

describe('the execution', () => {
  const longTask = machine(
    {
      Run: {
        Type: 'Task',
        Resource: ECS,
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
    { TimeoutSeconds: 300 },
  );

  test("TimeoutSeconds ends it TIMED_OUT at that time: no Catch runs, the task's signal is aborted", async () => {
    const { clock, run, history } = engine(longTask);
    let signal: AbortSignal | undefined;
    const outcome = await settle(
      clock,
      run({}, (call) => {
        signal = call.signal;
        return new Promise(() => undefined);
      }),
    );
    expect(outcome).toEqual({
      status: 'TIMED_OUT',
      error: 'States.Timeout',
      cause: 'The execution timed out',
      // where a redrive resumes: the state it was in
      failedState: { name: 'Run', input: {} },
      at: 300_000,
    });
    expect(signal?.aborted).toBe(true);
    expect(history.events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'ExecutionTimedOut',
    ]);
  });

  test('StopExecution ends it ABORTED at once, with its error and cause: no Catch runs', async () => {
    const { clock, run, history } = engine(longTask);
    const stop = new AbortController();
    const running = run({}, () => new Promise(() => undefined), { signal: stop.signal });
    await clock.advance(42_000);
    stop.abort(new ExecutionStopped('ABORTED', 'Operator', 'stopped by hand'));
    expect(await running).toEqual({
      status: 'ABORTED',
      error: 'Operator',
      cause: 'stopped by hand',
      failedState: { name: 'Run', input: {} },
    });
    expect(history.events.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      timestamp: 42_000,
      executionAbortedEventDetails: { error: 'Operator', cause: 'stopped by hand' },
    });
    expect(history.events.some((e) => e.type === 'PassStateEntered')).toBe(false);
  });

  test('Wait (Seconds, SecondsPath, Timestamp) waits on the clock', async () => {
    const { clock, run } = engine(
      machine({
        A: { Type: 'Wait', Seconds: 10, Next: 'B' },
        B: { Type: 'Wait', SecondsPath: '$.pause', Next: 'C' },
        C: { Type: 'Wait', Timestamp: '1970-01-01T00:01:00Z', End: true },
      }),
    );
    expect(await settle(clock, run({ pause: 5 }))).toMatchObject({ status: 'SUCCEEDED', at: 60_000 });
  });

  test('Fail with an intrinsic CausePath; the history has the AWS event types, ids and previous ids', async () => {
    const { run, history } = engine(
      machine({
        Mark: { Type: 'Pass', Result: 'boom', ResultPath: '$.why', Next: 'Fail' },
        Fail: { Type: 'Fail', ErrorPath: '$.code', CausePath: "States.Format('{} at {}', $.why, $.key)" },
      }),
    );
    expect(await run({ key: 'k', code: 'Bad.Thing' })).toEqual({
      status: 'FAILED',
      error: 'Bad.Thing',
      cause: 'boom at k',
      failedState: { name: 'Fail', input: { key: 'k', code: 'Bad.Thing', why: 'boom' } },
    });
    expect(history.events.map(({ id, previousEventId, type }) => [id, previousEventId, type])).toEqual([
      [1, 0, 'ExecutionStarted'],
      [2, 1, 'PassStateEntered'],
      [3, 2, 'PassStateExited'],
      [4, 3, 'FailStateEntered'],
      [5, 4, 'ExecutionFailed'],
    ]);
    expect(history.events[2]).toMatchObject({
      stateExitedEventDetails: { name: 'Mark', output: '{"key":"k","code":"Bad.Thing","why":"boom"}' },
    });
  });

  test('a redrive resumes at the state that failed, with its input', async () => {
    const definition = machine({
      First: { Type: 'Pass', Result: 1, ResultPath: '$.first', Next: 'Second' },
      Second: { Type: 'Task', Resource: ECS, ResultPath: '$.second', End: true },
    });
    const { run, history } = engine(definition);
    const failed = await run({}, failing('States.TaskFailed'));
    expect(failed.failedState).toEqual({ name: 'Second', input: { first: 1 } });
    const redriven = await run({}, failing(), { resumeAt: failed.failedState });
    expect(redriven).toEqual({ status: 'SUCCEEDED', output: { first: 1, second: { done: true } } });
    expect(history.events.filter((e) => e.type === 'PassStateEntered')).toHaveLength(1);
    expect(history.events.map((e) => e.type)).toContain('ExecutionRedriven');
  });
});

describe('Map and Parallel', () => {
  test('an inline Map runs each item (ItemSelector with $$.Map.Item), at most MaxConcurrency at once', async () => {
    const { clock, run } = engine(
      machine({
        Each: {
          Type: 'Map',
          ItemsPath: '$.keys',
          ItemSelector: {
            'key.$': '$$.Map.Item.Value',
            'index.$': '$$.Map.Item.Index',
            'bucket.$': '$.bucket',
          },
          MaxConcurrency: 2,
          ItemProcessor: {
            ProcessorConfig: { Mode: 'INLINE' },
            StartAt: 'Work',
            States: { Work: { Type: 'Task', Resource: ECS, End: true } },
          },
          ResultPath: '$.results',
          End: true,
        },
      }),
    );
    let running = 0;
    let most = 0;
    const outcome = await settle(
      clock,
      run({ bucket: 'b', keys: ['a', 'b', 'c', 'd', 'e'] }, async ({ parameters }) => {
        most = Math.max(most, ++running);
        await clock.sleep(1_000);
        running--;
        return parameters;
      }),
    );
    expect(most).toBe(2);
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', at: 3_000 });
    expect((outcome.output as { results: Json[] }).results).toEqual(
      ['a', 'b', 'c', 'd', 'e'].map((key, index) => ({ key, index, bucket: 'b' })),
    );
  });

  test("a failed iteration fails the Map with its error, which the Map's Catch handles", async () => {
    const { run } = engine(
      machine({
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemProcessor: {
            StartAt: 'Check',
            States: {
              Check: {
                Type: 'Choice',
                Choices: [{ Variable: '$', NumericEquals: 2, Next: 'Bad' }],
                Default: 'Ok',
              },
              Bad: { Type: 'Fail', Error: 'Item.Bad', Cause: 'two' },
              Ok: { Type: 'Succeed' },
            },
          },
          Catch: [{ ErrorEquals: ['Item.Bad'], ResultPath: '$.error', Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', OutputPath: '$.error', End: true },
      }),
    );
    expect(await run({ items: [1, 2, 3] })).toEqual({
      status: 'SUCCEEDED',
      output: { Error: 'Item.Bad', Cause: 'two' },
    });
  });

  test("Parallel gives the array of its branches' outputs", async () => {
    const { run } = engine(
      machine({
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'L', States: { L: { Type: 'Pass', Result: 'left', End: true } } },
            { StartAt: 'R', States: { R: { Type: 'Pass', InputPath: '$.v', End: true } } },
          ],
          End: true,
        },
      }),
    );
    expect(await run({ v: 'right' })).toEqual({ status: 'SUCCEEDED', output: ['left', 'right'] });
  });
});

describe('refused when the definition loads, naming the state', () => {
  test.each([
    [{ S: { Type: 'Loop', End: true } }, /state "S" has the unknown state type Loop/],
    [
      { S: { Type: 'Pass', End: true, Arguments: { x: 1 } } },
      /state "S" has the field Arguments, which a JSONPath Pass state does not take here/,
    ],
    [{ S: { Type: 'Pass', Next: 'Nowhere' } }, /state "S" is malformed: Next "Nowhere" names no state/],
    [
      { S: { Type: 'Pass', Parameters: { 'x.$': 'States.Nope($)' }, End: true } },
      /state "S" is malformed: .*States.Nope is not an intrinsic function/,
    ],
    [
      { S: { Type: 'Pass', Parameters: { 'x.$': '$..deep' }, End: true } },
      /state "S" is malformed: .*"\$\.\.deep" is not a path/,
    ],
    [
      { S: { Type: 'Choice', Choices: [{ Variable: '$.x', StringContains: 'a', Next: 'S' }] } },
      /state "S" is malformed: StringContains is not a Choice operator/,
    ],
  ])('%j', (States, message) => {
    expect(() => engine(machine(States))).toThrow(message);
  });

  test('an EXPRESS state machine refuses .sync and .waitForTaskToken, as Step Functions does', () => {
    expect(() =>
      engine(machine({ Run: { Type: 'Task', Resource: ECS, End: true } }), { type: 'EXPRESS' }),
    ).toThrow(
      /state "Run" calls arn:aws:states:::ecs:runTask.sync: an EXPRESS state machine supports neither .sync nor .waitForTaskToken/,
    );
  });
});
