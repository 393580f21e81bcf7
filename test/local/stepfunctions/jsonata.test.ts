import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AutoClock, VirtualClock } from '../../../local/clock';
import { LocalSqs } from '../../../local/sqs/queues';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import { ExecutionJournal } from '../../../local/stepfunctions/execution-journal';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import type { TaskCall, TaskHandler } from '../../../local/stepfunctions/state-machine';
import { ECS, engine, machine, settle } from './engine-harness';

/**
 * JSONata states (`"QueryLanguage": "JSONata"`) and workflow variables, as Step Functions runs them,
 * on a virtual clock: every output, history event and time asserted exactly. Error texts are the
 * ones AWS records (EvaluationFailed, ExecutionFailed).
 */

const JSONATA = { QueryLanguage: 'JSONata' };

/** The history without timestamps: its events' types and details. */
const events = (history: { events: ReadonlyArray<Record<string, unknown>> }) =>
  history.events.map(({ timestamp: _, ...event }) => event);

/** An ECS handler that records each call's parameters and answers `result`. */
function recording(result: unknown) {
  const calls: unknown[] = [];
  const handler: TaskHandler = async (call: TaskCall) => {
    calls.push(call.parameters);
    return result as never;
  };
  return { calls, handler };
}

describe('fields', () => {
  test('Task Arguments and Output, Pass Output: $states.input, .result, .context; literals pass through', async () => {
    const { history, run } = engine(
      machine(
        {
          Shape: {
            Type: 'Pass',
            Output: {
              id: '{% $states.input.order.id %}',
              n: '{% $states.input.order.n * 2 %}',
              literal: 'kept {% not an expression',
              list: ['{% $states.context.Execution.Name %}', 7, null],
            },
            Next: 'Run',
          },
          Run: {
            Type: 'Task',
            Resource: ECS,
            Arguments: { Cluster: 'c', Tag: '{% $states.input.id & "-" & $states.context.State.Name %}' },
            Output: { id: '{% $states.input.id %}', exit: '{% $states.result.exitCode %}' },
            End: true,
          },
        },
        JSONATA,
      ),
    );
    const { calls, handler } = recording({ exitCode: 0 });
    expect(await run({ order: { id: 'o-7', n: 21 } }, handler)).toEqual({
      status: 'SUCCEEDED',
      output: { id: 'o-7', exit: 0 },
    });
    expect(calls).toEqual([{ Cluster: 'c', Tag: 'o-7-Run' }]);
    expect(events(history).map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.events[2].stateExitedEventDetails).toEqual({
      name: 'Shape',
      output: JSON.stringify({
        id: 'o-7',
        n: 42,
        literal: 'kept {% not an expression',
        list: ['e', 7, null],
      }),
      outputDetails: { truncated: false },
    });
    expect(history.events[4].taskScheduledEventDetails).toMatchObject({
      parameters: JSON.stringify({ Cluster: 'c', Tag: 'o-7-Run' }),
    });
  });

  test('without Output a Task gives its result and a Pass its input; without Arguments a Task is called with {}', async () => {
    const { run } = engine(
      machine(
        {
          Keep: { Type: 'Pass', Next: 'Run' },
          Run: { Type: 'Task', Resource: ECS, End: true },
        },
        JSONATA,
      ),
    );
    const { calls, handler } = recording({ exitCode: 3 });
    expect(await run({ a: 1 }, handler)).toEqual({ status: 'SUCCEEDED', output: { exitCode: 3 } });
    expect(calls).toEqual([{}]);
  });

  test('a JSONata state in a JSONPath machine, and back: each reads the other one’s output', async () => {
    const { run } = engine(
      machine({
        Path: { Type: 'Pass', Parameters: { 'v.$': '$.v', fixed: 1 }, Next: 'Nata' },
        Nata: {
          Type: 'Pass',
          QueryLanguage: 'JSONata',
          Output: { sum: '{% $states.input.v + $states.input.fixed %}' },
          Next: 'Back',
        },
        Back: { Type: 'Pass', InputPath: '$.sum', End: true },
      }),
    );
    expect(await run({ v: 41 })).toEqual({ status: 'SUCCEEDED', output: 42 });
  });
});

describe('variables (Assign)', () => {
  test('set at workflow scope, read as $name in JSONata and JSONPath states; Assign and Output see the values the state began with', async () => {
    const { history, run } = engine(
      machine({
        Start: {
          Type: 'Pass',
          QueryLanguage: 'JSONata',
          Assign: { count: 1, ttl: '{% $floor($millis() / 1000) + 86400 %}' },
          Next: 'Again',
        },
        Again: {
          Type: 'Pass',
          QueryLanguage: 'JSONata',
          Assign: { count: '{% $count + 1 %}', before: '{% $count %}' },
          Output: { seen: '{% $count %}' },
          Next: 'Path',
        },
        Path: {
          Type: 'Pass',
          Parameters: { 'count.$': '$count', 'ttl.$': '$ttl', 'seen.$': '$.seen' },
          Assign: { 'fromPath.$': '$.count', literal: 'x' },
          Next: 'Choose',
        },
        Choose: {
          Type: 'Choice',
          Choices: [{ Variable: '$fromPath', NumericEquals: 2, Next: 'Done' }],
          Default: 'Wrong',
        },
        Done: { Type: 'Succeed' },
        Wrong: { Type: 'Fail', Error: 'Wrong' },
      }),
      { startMs: 1_700_000_000_500 },
    );
    expect(await run({})).toEqual({
      status: 'SUCCEEDED',
      output: { count: 2, ttl: 1_700_086_400, seen: 1 },
    });
    const assigned = history.events
      .filter((e) => e.type === 'PassStateExited')
      .map((e) => (e.stateExitedEventDetails as Record<string, unknown>).assignedVariables);
    expect(assigned).toEqual([
      { count: '1', ttl: '1700086400' },
      { count: '2', before: '1' },
      { fromPath: '2', literal: '"x"' },
    ]);
    expect(history.events[2].stateExitedEventDetails).toEqual({
      name: 'Start',
      output: '{}',
      outputDetails: { truncated: false },
      assignedVariables: { count: '1', ttl: '1700086400' },
      assignedVariablesDetails: { truncated: false },
    });
  });

  test('a JSONPath Choice: the matched rule’s Assign; the state’s goes with the Default', async () => {
    const definition = machine({
      Start: { Type: 'Pass', Assign: { route: 'none' }, Next: 'Route' },
      Route: {
        Type: 'Choice',
        Choices: [
          { Assign: { route: 'big' }, Variable: '$.n', NumericGreaterThan: 10, Next: 'Show' },
          { Variable: '$.n', NumericGreaterThan: 5, Next: 'Show' },
        ],
        Default: 'Show',
        Assign: { route: 'default', 'n.$': '$.n' },
      },
      Show: { Type: 'Pass', Parameters: { 'route.$': '$route' }, End: true },
    });
    const route = async (n: number) => (await engine(definition).run({ n })).output;
    expect([await route(20), await route(7), await route(1)]).toEqual([
      { route: 'big' },
      { route: 'none' },
      { route: 'default' },
    ]);
  });

  test('a JSONPath Task’s Assign reads its result before ResultSelector', async () => {
    const { run } = engine(
      machine({
        Run: {
          Type: 'Task',
          Resource: ECS,
          Parameters: { Cluster: 'c' },
          ResultSelector: { 'code.$': '$.exitCode' },
          Assign: { 'stopped.$': '$.stoppedReason', 'selected.$': '$.code' },
          Next: 'Show',
        },
        Show: { Type: 'Pass', Parameters: { 'stopped.$': '$stopped', 'out.$': '$' }, End: true },
      }),
    );
    expect(await run({}, recording({ exitCode: 0, stoppedReason: 'done' }).handler)).toEqual({
      status: 'FAILED',
      error: 'States.Runtime',
      cause:
        'The JSONPath \'$.code\' specified for the field \'selected.$\' could not be found in the input \'{"exitCode":0,"stoppedReason":"done"}\'',
      failedState: { name: 'Run', input: {} },
    });
    const fixed = engine(
      machine({
        Run: {
          Type: 'Task',
          Resource: ECS,
          Parameters: { Cluster: 'c' },
          ResultSelector: { 'code.$': '$.exitCode' },
          Assign: { 'stopped.$': '$.stoppedReason' },
          Next: 'Show',
        },
        Show: { Type: 'Pass', Parameters: { 'stopped.$': '$stopped', 'out.$': '$' }, End: true },
      }),
    );
    expect(await fixed.run({}, recording({ exitCode: 0, stoppedReason: 'done' }).handler)).toEqual({
      status: 'SUCCEEDED',
      output: { stopped: 'done', out: { code: 0 } },
    });
  });

  test('a JSONPath state’s OutputPath reads a variable before its own Assign changes it', async () => {
    const { run } = engine(
      machine({
        Set: {
          Type: 'Pass',
          Result: { q: 'why' },
          Assign: { 'question.$': '$.q', answer: 42 },
          Next: 'Read',
        },
        Read: {
          Type: 'Pass',
          InputPath: '$answer',
          ResultPath: '$.theAnswer',
          OutputPath: '$answer',
          Assign: { answer: 'changed' },
          Next: 'Show',
        },
        Show: {
          Type: 'Pass',
          Parameters: { 'answer.$': '$answer', 'question.$': '$question', 'was.$': '$' },
          End: true,
        },
      }),
    );
    expect(await run({})).toEqual({
      status: 'SUCCEEDED',
      output: { answer: 'changed', question: 'why', was: 42 },
    });
  });

  test('a Map iteration and a Parallel branch read the outer variables; what they assign stays inside', async () => {
    const { run } = engine(
      machine(
        {
          Setup: { Type: 'Pass', Assign: { factor: 10 }, Next: 'Each' },
          Each: {
            Type: 'Map',
            Items: '{% $states.input.items %}',
            ItemSelector: {
              value: '{% $states.context.Map.Item.Value %}',
              index: '{% $states.context.Map.Item.Index %}',
              label: '{% $states.input.label %}',
            },
            MaxConcurrency: '{% 1 %}',
            ItemProcessor: {
              StartAt: 'Scale',
              States: {
                Scale: {
                  Type: 'Pass',
                  Assign: { scaled: '{% $states.input.value * $factor %}' },
                  Output: '{% $states.input.label & $string($states.input.index) %}',
                  Next: 'Read',
                },
                Read: {
                  Type: 'Pass',
                  Output: { label: '{% $states.input %}', scaled: '{% $scaled %}' },
                  End: true,
                },
              },
            },
            Output: { items: '{% $states.result %}', total: '{% $sum($states.result.scaled) %}' },
            Assign: { total: '{% $sum($states.result.scaled) %}' },
            Next: 'Both',
          },
          Both: {
            Type: 'Parallel',
            Arguments: { t: '{% $total %}' },
            Branches: [
              {
                StartAt: 'L',
                States: { L: { Type: 'Pass', Output: '{% $states.input.t + 1 %}', End: true } },
              },
              { StartAt: 'R', States: { R: { Type: 'Pass', Output: '{% $factor %}', End: true } } },
            ],
            Output: {
              map: '{% $states.input.total %}',
              parallel: '{% $states.result %}',
              inner: '{% $exists($scaled) %}',
            },
            End: true,
          },
        },
        JSONATA,
      ),
    );
    expect(await run({ items: [1, 2, 3], label: 'i' })).toEqual({
      status: 'SUCCEEDED',
      output: { map: 60, parallel: [61, 10], inner: false },
    });
  });
});

test('a redrive, in a new process, resumes the failed state with the variables assigned before it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jsonata-redrive-'));
  try {
    const arn = 'arn:aws:states:us-east-1:000000000000:stateMachine:Work';
    const machines = [
      {
        logicalId: 'Work',
        arn,
        definition: machine(
          {
            Set: { Type: 'Pass', Assign: { tag: '{% "run-" & $states.input.n %}' }, Next: 'Run' },
            Run: {
              Type: 'Task',
              Resource: ECS,
              Arguments: { tag: '{% $tag %}' },
              Output: { ran: '{% $states.result.ran %}', tag: '{% $tag %}' },
              End: true,
            },
          },
          JSONATA,
        ),
      },
    ];
    const clock = new AutoClock(Date.UTC(2026, 11, 1));
    const first = new LocalStepFunctions({
      clock,
      journal: new ExecutionJournal(dir),
      stateMachines: machines,
      runTask: async () => {
        throw new StatesError('States.TaskFailed', 'exit code 1');
      },
    });
    const { executionArn } = (await first.api.call('StartExecution', {
      stateMachineArn: arn,
      input: '{"n":7}',
    })) as {
      executionArn: string;
    };
    await first.onIdle();

    const { calls, handler } = recording({ ran: 1 });
    const later = new LocalStepFunctions({
      clock,
      journal: new ExecutionJournal(dir),
      stateMachines: machines,
      runTask: handler,
    });
    await later.api.call('RedriveExecution', { executionArn });
    await later.onIdle();
    expect(calls).toEqual([{ tag: 'run-7' }]);
    expect(await later.api.call('DescribeExecution', { executionArn })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      output: JSON.stringify({ ran: 1, tag: 'run-7' }),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('Choice', () => {
  const definition = machine(
    {
      Route: {
        Type: 'Choice',
        Choices: [
          {
            Condition: '{% $states.input.n > 10 %}',
            Next: 'Big',
            Output: { size: 'big' },
            Assign: { route: 'big' },
          },
          { Condition: '{% $states.input.n > 5 %}', Next: 'Mid' },
          { Condition: false, Next: 'Big' },
        ],
        Default: 'Small',
        Assign: { route: 'state' },
        Output: '{% $states.input.n %}',
      },
      Big: { Type: 'Succeed', Output: { size: '{% $states.input.size %}', route: '{% $route %}' } },
      Mid: {
        Type: 'Succeed',
        Output: '{% {"mid": $states.input, "route": $exists($route) ? $route : "none"} %}',
      },
      Small: { Type: 'Succeed', Output: '{% $route %}' },
    },
    JSONATA,
  );

  test.each([
    [20, { size: 'big', route: 'big' }],
    [7, { mid: { n: 7 }, route: 'none' }],
    [1, 'state'],
  ])(
    'n = %j: the first Condition that holds, with its Output and Assign; the state’s go with the Default',
    async (n, output) => {
      expect(await engine(definition).run({ n })).toEqual({ status: 'SUCCEEDED', output });
    },
  );

  test('a Condition that is not a boolean fails with States.QueryEvaluationError', async () => {
    const { run } = engine(
      machine(
        {
          Route: { Type: 'Choice', Choices: [{ Condition: '{% $states.input.n %}', Next: 'End' }] },
          End: { Type: 'Succeed' },
        },
        JSONATA,
      ),
    );
    expect(await run({ n: 1 })).toMatchObject({
      status: 'FAILED',
      error: 'States.QueryEvaluationError',
      cause:
        "An error occurred while executing the state 'Route' (entered at the event id #2). The JSONata expression '$states.input.n' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was 'number' for value: 1",
    });
  });
});

describe('time from the engine’s clock', () => {
  const start = Date.UTC(2026, 11, 2, 3, 0, 0);

  test('$now() and $millis() read the virtual clock, after a Wait whose Seconds is an expression', async () => {
    const { clock, run } = engine(
      machine(
        {
          Hold: { Type: 'Wait', Seconds: '{% $states.input.delay %}', Next: 'Stamp' },
          Stamp: {
            Type: 'Pass',
            Output: {
              now: '{% $now() %}',
              ms: '{% $millis() %}',
              day: '{% $now("[Y0001]-[M01]-[D01]") %}',
              started: '{% $toMillis($states.context.Execution.StartTime) %}',
              elapsedSeconds: '{% ($millis() - $toMillis($states.context.Execution.StartTime)) / 1000 %}',
              expires: '{% $floor($millis() / 1000) + 7 * 86400 %}',
            },
            End: true,
          },
        },
        JSONATA,
      ),
      { startMs: start },
    );
    expect(await settle(clock, run({ delay: 90 }))).toEqual({
      status: 'SUCCEEDED',
      output: {
        now: '2026-12-02T03:01:30.000Z',
        ms: start + 90_000,
        day: '2026-12-02',
        started: start,
        elapsedSeconds: 90,
        expires: start / 1000 + 90 + 7 * 86400,
      },
      at: start + 90_000,
    });
  });

  test('a Wait until a Timestamp expression; a Task TimeoutSeconds expression times it out on the clock', async () => {
    const { clock, run } = engine(
      machine(
        {
          Until: { Type: 'Wait', Timestamp: '{% $fromMillis($millis() + 30000) %}', Next: 'Run' },
          Run: {
            Type: 'Task',
            Resource: ECS,
            Arguments: { Cluster: 'c' },
            TimeoutSeconds: '{% $states.input.timeout %}',
            Catch: [
              { ErrorEquals: ['States.Timeout'], Output: { timedOutAt: '{% $millis() %}' }, Next: 'Done' },
            ],
            End: true,
          },
          Done: { Type: 'Succeed' },
        },
        JSONATA,
      ),
      { startMs: start },
    );
    const hang: TaskHandler = (call) =>
      new Promise((_, reject) => call.signal.addEventListener('abort', () => reject(call.signal.reason)));
    expect(await settle(clock, run({ timeout: 5 }, hang))).toEqual({
      status: 'SUCCEEDED',
      output: { timedOutAt: start + 35_000 },
      at: start + 35_000,
    });
  });

  test('.waitForTaskToken: Arguments read $states.context.Task.Token; a HeartbeatSeconds expression times the wait out', async () => {
    const url = 'https://sqs.us-east-1.amazonaws.com/000000000000/Line';
    const clock = new VirtualClock(start);
    const sqs = new LocalSqs([{ url }], clock);
    const { run } = engine(
      machine(
        {
          Park: {
            Type: 'Task',
            Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
            Arguments: {
              QueueUrl: url,
              MessageBody: { token: '{% $states.context.Task.Token %}', key: '{% $states.input.key %}' },
            },
            HeartbeatSeconds: '{% $states.input.heartbeat %}',
            Catch: [
              {
                ErrorEquals: ['States.HeartbeatTimeout'],
                Output: { error: '{% $states.errorOutput.Error %}', at: '{% $millis() %}' },
                Next: 'Done',
              },
            ],
            End: true,
          },
          Done: { Type: 'Succeed' },
        },
        JSONATA,
      ),
      { clock, startMs: start, services: { sqs } },
    );
    expect(await settle(clock, run({ key: 'k', heartbeat: 5 }))).toEqual({
      status: 'SUCCEEDED',
      output: { error: 'States.HeartbeatTimeout', at: start + 5000 },
      at: start + 5000,
    });
    const { Messages = [] } = await sqs.queue(url).receiveMessage();
    expect(JSON.parse(Messages[0].Body)).toEqual({ token: expect.stringMatching(/.{16,}/), key: 'k' });
  });

  test('a Wait Timestamp that is not an ISO 8601 time with its offset fails as AWS words it', async () => {
    const { history, run } = engine(
      machine({ Until: { Type: 'Wait', Timestamp: '{% $states.input.t %}', End: true } }, JSONATA),
    );
    expect(await run({ t: '2016-12-05 21:29:29Z' })).toMatchObject({
      status: 'FAILED',
      error: 'States.QueryEvaluationError',
      cause:
        "An error occurred while executing the state 'Until' (entered at the event id #2). The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: 2016-12-05 21:29:29Z",
    });
    expect(history.events[2]).toMatchObject({
      type: 'EvaluationFailed',
      previousEventId: 2,
      evaluationFailedEventDetails: { location: 'Timestamp', state: 'Until' },
    });
  });
});

describe('errors as AWS names them', () => {
  test('an expression that gives nothing: EvaluationFailed naming the field, then ExecutionFailed', async () => {
    const { history, run } = engine(
      machine({ S: { Type: 'Pass', Output: { result: '{% $doesNotExist %}' }, End: true } }, JSONATA),
    );
    const cause =
      "An error occurred while executing the state 'S' (entered at the event id #2). The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined).";
    expect(await run({})).toEqual({
      status: 'FAILED',
      error: 'States.QueryEvaluationError',
      cause,
      failedState: { name: 'S', input: {} },
    });
    expect(events(history).slice(2)).toEqual([
      {
        type: 'EvaluationFailed',
        id: 3,
        // the event before the state's entry, as AWS links it
        previousEventId: 1,
        evaluationFailedEventDetails: {
          error: 'States.QueryEvaluationError',
          cause,
          location: 'Output/result',
          state: 'S',
        },
      },
      {
        type: 'ExecutionFailed',
        id: 4,
        previousEventId: 3,
        executionFailedEventDetails: { error: 'States.QueryEvaluationError', cause },
      },
    ]);
  });

  test('an expression that throws is caught: the Catch’s Output and Assign read $states.errorOutput and $states.input', async () => {
    const { history, run } = engine(
      machine(
        {
          Call: {
            Type: 'Task',
            Resource: ECS,
            Arguments: { Cluster: '{% $states.input.name() %}' },
            Catch: [
              {
                ErrorEquals: ['States.QueryEvaluationError'],
                Output: { error: '{% $states.errorOutput.Error %}', input: '{% $states.input %}' },
                Assign: { failed: true },
                Next: 'After',
              },
            ],
            End: true,
          },
          After: { Type: 'Pass', Output: '{% $merge([$states.input, {"failed": $failed}]) %}', End: true },
        },
        JSONATA,
      ),
    );
    const { calls, handler } = recording({});
    expect(await run({ name: 'x' }, handler)).toEqual({
      status: 'SUCCEEDED',
      output: { error: 'States.QueryEvaluationError', input: { name: 'x' }, failed: true },
    });
    expect(calls).toEqual([]);
    expect(events(history).slice(2, 4)).toEqual([
      {
        type: 'EvaluationFailed',
        id: 3,
        // the event before the state's entry, as AWS links it
        previousEventId: 1,
        evaluationFailedEventDetails: {
          error: 'States.QueryEvaluationError',
          cause:
            "An error occurred while executing the state 'Call' (entered at the event id #2). The JSONata expression '$states.input.name()' specified for the field 'Arguments/Cluster' threw an error during evaluation. T1006: Attempted to invoke a non-function",
          location: 'Arguments/Cluster',
          state: 'Call',
        },
      },
      {
        type: 'TaskStateExited',
        id: 4,
        previousEventId: 3,
        stateExitedEventDetails: {
          name: 'Call',
          output: JSON.stringify({ error: 'States.QueryEvaluationError', input: { name: 'x' } }),
          outputDetails: { truncated: false },
          assignedVariables: { failed: 'true' },
          assignedVariablesDetails: { truncated: false },
        },
      },
    ]);
  });

  test('a task’s error, caught without Output, gives the error output', async () => {
    const { run } = engine(
      machine(
        {
          Call: {
            Type: 'Task',
            Resource: ECS,
            Arguments: {},
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'After' }],
            End: true,
          },
          After: { Type: 'Pass', End: true },
        },
        JSONATA,
      ),
    );
    const failing: TaskHandler = async () => {
      throw new StatesError('States.TaskFailed', 'exit 3');
    };
    expect(await run({}, failing)).toEqual({
      status: 'SUCCEEDED',
      output: { Error: 'States.TaskFailed', Cause: 'exit 3' },
    });
  });

  test('a Fail state’s Error and Cause are expressions; one that is not a string fails the evaluation', async () => {
    const fail = (Error: unknown) =>
      engine(machine({ Stop: { Type: 'Fail', Error, Cause: 'literal cause' } }, JSONATA)).run({
        kind: 'Bad',
      });
    expect(await fail('{% "Order." & $states.input.kind %}')).toMatchObject({
      status: 'FAILED',
      error: 'Order.Bad',
      cause: 'literal cause',
    });
    expect(await fail('{% 1 %}')).toMatchObject({
      status: 'FAILED',
      error: 'States.QueryEvaluationError',
      cause:
        "An error occurred while executing the state 'Stop' (entered at the event id #2). The JSONata expression '1' specified for the field 'Error' returned an unexpected result type. Expected 'string', but was 'number' for value: 1",
    });
  });

  test('Items that is not an array fails as AWS words it', async () => {
    const { history, run } = engine(
      machine(
        {
          Each: {
            Type: 'Map',
            Items: '{% $states.input.items %}',
            ItemProcessor: { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } },
            End: true,
          },
        },
        JSONATA,
      ),
    );
    expect(await run({ items: { foo: 'bar' } })).toMatchObject({
      error: 'States.QueryEvaluationError',
      cause:
        "An error occurred while executing the state 'Each' (entered at the event id #2). The JSONata expression '$states.input.items' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}",
    });
    expect(events(history).map(({ type, id, previousEventId }) => [type, id, previousEventId])).toEqual([
      ['ExecutionStarted', 1, 0],
      ['MapStateEntered', 2, 1],
      ['EvaluationFailed', 3, 1],
      ['MapStateFailed', 4, 3],
      ['ExecutionFailed', 5, 4],
    ]);
  });
});

describe('Step Functions’ JSONata functions', () => {
  test('$partition, $range, $hash, $random (the engine’s), $uuid, $parse', async () => {
    const { run } = engine(
      machine(
        {
          Fns: {
            Type: 'Pass',
            Output: {
              partition: '{% $partition([1, 2, 3, 4, 5], 2) %}',
              range: '{% $range(0, 10, 5) %}',
              single: '{% $range(1, 9, 9) %}',
              hash: '{% $hash("abc", "SHA-256") %}',
              random: '{% $random() %}',
              uuid: '{% $uuid() %}',
              parsed: '{% $parse($states.input.json) %}',
            },
            End: true,
          },
        },
        JSONATA,
      ),
      { random: () => 0.25 },
    );
    const outcome = await run({ json: '{"a":[1,null]}' });
    expect(outcome).toEqual({
      status: 'SUCCEEDED',
      output: {
        partition: [[1, 2], [3, 4], [5]],
        range: [0, 5, 10],
        single: 1,
        hash: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        random: 0.25,
        uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        parsed: { a: [1, null] },
      },
    });
  });

  test('a function given what it cannot take fails the evaluation, naming the function', async () => {
    const { run } = engine(
      machine({ F: { Type: 'Pass', Output: '{% $partition([1], 0) %}', End: true } }, JSONATA),
    );
    expect(await run({})).toMatchObject({
      error: 'States.QueryEvaluationError',
      cause:
        "An error occurred while executing the state 'F' (entered at the event id #2). The JSONata expression '$partition([1], 0)' specified for the field 'Output' threw an error during evaluation. Invalid arguments in $partition: the chunk size must be above 0",
    });
  });
});

describe('refused when the definition loads, naming the state', () => {
  test.each([
    [
      machine({ S: { Type: 'Pass', QueryLanguage: 'JSONPath', End: true } }, JSONATA),
      /state "S" has 'QueryLanguage' 'JSONPath', which it can not be if set to 'JSONata' for whole state machine/,
    ],
    [
      machine({ S: { Type: 'Pass', Parameters: {}, End: true } }, JSONATA),
      /state "S" has the field Parameters, which a JSONata Pass state does not take here/,
    ],
    [
      machine({ S: { Type: 'Pass', Output: '{% 1 + %}', End: true } }, JSONATA),
      /state "S" is malformed: the JSONata expression '1 \+' does not parse: S0207/,
    ],
    [
      machine({ S: { Type: 'Pass', Output: '{% $eval("1") %}', End: true } }, JSONATA),
      /state "S" is malformed: .*calls \$eval, which Step Functions leaves out: use \$parse/,
    ],
    [
      machine({ S: { Type: 'Pass', Output: '{% $random(7) %}', End: true } }, JSONATA),
      /state "S" is malformed: .*calls \$random with a seed/,
    ],
    [
      machine({ S: { Type: 'Pass', Output: '{% $.a %}', End: true } }, JSONATA),
      /state "S" is malformed: the JSONata expression '\$\.a' reads \$ at its top level: read the state's input as \$states.input/,
    ],
    [
      machine({ S: { Type: 'Task', Resource: ECS, Arguments: '{% $states.result %}', End: true } }, JSONATA),
      /state "S" is malformed: Arguments reads \$states.result, which it does not have/,
    ],
    [
      machine({ S: { Type: 'Pass', Output: '{% $states.errorOutput %}', End: true } }, JSONATA),
      /state "S" is malformed: Output reads \$states.errorOutput, which it does not have/,
    ],
    [
      machine({ S: { Type: 'Pass', Assign: { 'bad-name': 1 }, End: true } }, JSONATA),
      /state "S" is malformed: Assign names the variable "bad-name"/,
    ],
    [
      machine({ S: { Type: 'Choice', Choices: [{ Variable: '$.x', IsNull: true, Next: 'S' }] } }, JSONATA),
      /state "S" is malformed: a JSONata Choice rule takes Condition, Next, Output and Assign, not Variable/,
    ],
    [
      machine(
        {
          S: { Type: 'Pass', Assign: { x: 1 }, Next: 'M' },
          M: {
            Type: 'Map',
            ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', Assign: { x: 2 }, End: true } } },
            End: true,
          },
        },
        JSONATA,
      ),
      /state "I" is malformed: assigns \$x, a variable of an outer scope/,
    ],
    [
      machine(
        {
          M: {
            Type: 'Map',
            ItemProcessor: {
              ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
              StartAt: 'I',
              States: { I: { Type: 'Pass', End: true } },
            },
            End: true,
          },
        },
        JSONATA,
      ),
      /state "M" is a DISTRIBUTED Map in JSONata, which the local Step Functions runs in JSONPath only/,
    ],
    [
      machine({ S: { Type: 'Pass', End: true } }, { QueryLanguage: 'JSONata2' }),
      /state "S" belongs to a machine with the QueryLanguage JSONata2/,
    ],
  ])('%#: %j', (definition, message) => {
    expect(() => engine(definition)).toThrow(message);
  });
});
