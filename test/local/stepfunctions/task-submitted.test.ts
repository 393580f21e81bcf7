import { AutoClock, VirtualClock } from '../../../local/clock';
import type { LocalTaskDefinition } from '../../../local/ecs/task-definitions';
import { LocalEcsTaskRunner } from '../../../local/ecs/task-runner';
import { LocalSqs } from '../../../local/sqs/queues';
import {
  ExecutionHistory,
  type HistoryEvent,
  MAX_HISTORY_EVENTS,
} from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import type { LocalStateMachineResource } from '../../../local/stepfunctions/definitions';
import { LocalStepFunctions } from '../../../local/stepfunctions/executions';
import { LocalStateMachine, type TaskHandler } from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';
import { ECS, engine, machine } from './engine-harness';

/**
 * TaskSubmitted, where Step Functions records it: after TaskStarted for a `.sync` or
 * `.waitForTaskToken` task, with the submit call's answer (RunTask's, StartExecution's, SendMessage's)
 * as its output; never for a request-response task, nor for a launch ECS refused.
 */

/** The real ECS runner, its one task definition's container running `script` with this Node. */
function ecsRunner(clock: VirtualClock, script: string): LocalEcsTaskRunner {
  const taskDefinition: LocalTaskDefinition = {
    logicalId: 'T',
    family: 'worker',
    arn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/worker:1',
    containers: [{ name: 'worker', essential: true, environment: [], stopTimeoutSeconds: 30 }],
  };
  return new LocalEcsTaskRunner({
    clock,
    taskDefinitions: [taskDefinition],
    command: [process.execPath, '-e', script],
    baseEnvironment: {},
    partition: 'aws',
    region: 'us-east-1',
    accountId: '000000000000',
  });
}

const runWorker = (taskDefinition = 'worker') =>
  machine({
    Run: {
      Type: 'Task',
      Resource: ECS,
      Parameters: { Cluster: 'c', TaskDefinition: taskDefinition },
      End: true,
    },
  });

/** `[id, previousEventId, type]` of each event. */
const chain = (events: readonly HistoryEvent[]) => events.map((e) => [e.id, e.previousEventId, e.type]);
const submittedOf = (events: readonly HistoryEvent[]) =>
  events.find((e) => e.type === 'TaskSubmitted')?.taskSubmittedEventDetails as Record<string, unknown>;

test('ecs:runTask.sync: TaskSubmitted after TaskStarted, with RunTask’s answer; then TaskSucceeded with the stopped task', async () => {
  const clock = new VirtualClock(0);
  const runner = ecsRunner(clock, 'process.exit(0)');
  const { history, run } = engine(runWorker(), { clock });
  const outcome = await run(
    {},
    ({ stateName, parameters, signal, onSubmitted }) =>
      runner.run({
        stateName,
        parameters,
        signal,
        onSubmitted: (r) => onSubmitted(r as Json),
      }) as Promise<Json>,
  );
  expect(outcome.status).toBe('SUCCEEDED');
  expect(chain(history.events)).toEqual([
    [1, 0, 'ExecutionStarted'],
    [2, 1, 'TaskStateEntered'],
    [3, 2, 'TaskScheduled'],
    [4, 3, 'TaskStarted'],
    [5, 4, 'TaskSubmitted'],
    [6, 5, 'TaskSucceeded'],
    [7, 6, 'TaskStateExited'],
    [8, 7, 'ExecutionSucceeded'],
  ]);
  const submitted = submittedOf(history.events);
  expect(submitted).toEqual({
    resourceType: 'ecs',
    resource: 'runTask.sync',
    output: expect.any(String),
    outputDetails: { truncated: false },
  });
  const { Tasks, Failures } = JSON.parse(String(submitted.output)) as {
    Tasks: Array<Record<string, unknown>>;
    Failures: unknown[];
  };
  expect(Failures).toEqual([]);
  expect(Tasks).toEqual([
    expect.objectContaining({
      ClusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/c',
      LastStatus: 'PROVISIONING',
      DesiredStatus: 'RUNNING',
      TaskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/worker:1',
      TaskArn: (outcome.output as { TaskArn: string }).TaskArn,
    }),
  ]);
});

test('ecs:runTask.sync: a task that ran and exited 1 has its TaskSubmitted before TaskFailed; a refused launch has none', async () => {
  const clock = new VirtualClock(0);
  const runner = ecsRunner(clock, 'process.exit(1)');
  const handler: TaskHandler = ({ stateName, parameters, signal, onSubmitted }) =>
    runner.run({
      stateName,
      parameters,
      signal,
      onSubmitted: (r) => onSubmitted(r as Json),
    }) as Promise<Json>;

  const exited = engine(runWorker(), { clock });
  expect(await exited.run({}, handler)).toMatchObject({ status: 'FAILED', error: 'States.TaskFailed' });
  expect(chain(exited.history.events).map(([, , type]) => type)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSubmitted',
    'TaskFailed',
    'ExecutionFailed',
  ]);

  const refused = engine(runWorker('no-such-family'), { clock });
  expect(await refused.run({}, handler)).toMatchObject({ status: 'FAILED' });
  expect(chain(refused.history.events)).toEqual([
    [1, 0, 'ExecutionStarted'],
    [2, 1, 'TaskStateEntered'],
    [3, 2, 'TaskScheduled'],
    [4, 3, 'TaskStarted'],
    [5, 4, 'TaskFailed'],
    [6, 5, 'ExecutionFailed'],
  ]);
});

test('TaskSubmitted counts toward the 25,000 history events: the event it adds is the one past the limit', async () => {
  const clock = new VirtualClock(0);
  const twoTasks = machine({
    First: { Type: 'Task', Resource: ECS, Parameters: { TaskDefinition: 'worker' }, Next: 'Second' },
    Second: { Type: 'Task', Resource: ECS, Parameters: { TaskDefinition: 'worker' }, End: true },
  });
  // Earlier events (a redriven execution's) leave room for ExecutionStarted and First's six events,
  // TaskSubmitted among them: Second would be the 25,001st.
  const earlier = Array.from({ length: MAX_HISTORY_EVENTS - 7 }, (_, i) => ({
    timestamp: 0,
    type: 'PassStateEntered',
    id: i + 1,
    previousEventId: i,
  }));
  const history = new ExecutionHistory(clock, earlier);
  const launched: string[] = [];
  const outcome = await new LocalStateMachine(twoTasks, { clock, tokens: new TaskTokens(clock) }).run(
    {},
    {
      identity: { executionArn: 'e', name: 'e', stateMachineArn: 'm', startTime: '' },
      history,
      runTask: async ({ stateName, onSubmitted }) => {
        launched.push(stateName);
        onSubmitted({ Tasks: [{ TaskArn: `task/${stateName}` }], Failures: [] });
        return { done: stateName };
      },
    },
  );
  expect(launched).toEqual(['First']);
  expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
  expect(history.events.slice(MAX_HISTORY_EVENTS - 7).map((e) => e.type)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSubmitted',
    'TaskSucceeded',
    'TaskStateExited',
    'ExecutionFailed',
  ]);
});

test('.waitForTaskToken: TaskSubmitted carries SendMessage’s answer and comes before the wait; request-response records none', async () => {
  const URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/Line';
  const clock = new AutoClock(0);
  const sqs = new LocalSqs([{ url: URL }], clock);
  const resource: LocalStateMachineResource = {
    logicalId: 'M',
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:M',
    definition: machine({
      Park: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        Parameters: { QueueUrl: URL, 'MessageBody.$': '$$.Task.Token' },
        Next: 'Peek',
      },
      Peek: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage',
        Parameters: { QueueUrl: URL, MessageBody: 'after the wait' },
        End: true,
      },
    }),
  };
  const stepFunctions = new LocalStepFunctions({
    clock,
    services: { sqs },
    stateMachines: [resource],
    runTask: () => Promise.reject(new Error('no ECS here')),
  });
  const record = stepFunctions.startExecution(resource, {});
  const [message] = (await sqs.queue(URL).receiveMessage({ WaitTimeSeconds: 20 })).Messages ?? [];
  // While it waits, its last event is the TaskSubmitted (what the planner's slot watch reads).
  expect(record.history.events.at(-1)?.type).toBe('TaskSubmitted');
  stepFunctions.tokens.sendTaskSuccess(message.Body!, '{"woken":true}');
  await stepFunctions.finished(record);

  expect(record.status).toBe('SUCCEEDED');
  expect(chain(record.history.events).map(([, , type]) => type)).toEqual([
    'ExecutionStarted',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSubmitted',
    'TaskSucceeded',
    'TaskStateExited',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSucceeded',
    'TaskStateExited',
    'ExecutionSucceeded',
  ]);
  const submitted = submittedOf(record.history.events);
  expect(submitted).toMatchObject({ resourceType: 'sqs', resource: 'sendMessage.waitForTaskToken' });
  expect(JSON.parse(String(submitted.output))).toEqual({
    MessageId: message.MessageId,
    MD5OfMessageBody: message.MD5OfBody,
  });
});

test('states:startExecution.sync: TaskSubmitted carries StartExecution’s answer, the child’s ARN', async () => {
  const clock = new AutoClock(0);
  const child: LocalStateMachineResource = {
    logicalId: 'Child',
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Child',
    definition: machine({ Done: { Type: 'Pass', End: true } }),
  };
  const parent: LocalStateMachineResource = {
    logicalId: 'Parent',
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Parent',
    definition: machine({
      Start: {
        Type: 'Task',
        Resource: 'arn:aws:states:::states:startExecution.sync:2',
        Parameters: { StateMachineArn: child.arn, Name: 'the-child', Input: { a: 1 } },
        End: true,
      },
    }),
  };
  const stepFunctions = new LocalStepFunctions({
    clock,
    stateMachines: [child, parent],
    runTask: () => Promise.reject(new Error('no ECS here')),
  });
  const record = stepFunctions.startExecution(parent, {});
  await stepFunctions.finished(record);
  expect(record.status).toBe('SUCCEEDED');
  const types = record.history.events.map((e) => e.type);
  expect(types.slice(2, 6)).toEqual(['TaskScheduled', 'TaskStarted', 'TaskSubmitted', 'TaskSucceeded']);
  expect(submittedOf(record.history.events)).toMatchObject({
    resourceType: 'states',
    resource: 'startExecution.sync:2',
  });
  expect(JSON.parse(String(submittedOf(record.history.events).output))).toEqual({
    ExecutionArn: 'arn:aws:states:us-east-1:000000000000:execution:Child:the-child',
    StartDate: 0,
  });
});
