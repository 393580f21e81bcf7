import { AutoClock } from '../../../local/clock';
import { StatesError } from '../../../local/stepfunctions/asl/errors';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import { type ExecutionServiceCall, LocalStepFunctions } from '../../../local/stepfunctions/executions';

/**
 * LocalStepFunctions' `onServiceCall`: every Task state's service call (here the Step Functions API,
 * `aws-sdk:sfn:describeExecution` on the execution itself) passes through it with the execution that
 * made it; what it answers or throws is the state's, under the state's own Retry and Catch.
 */

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Look';
const definition = {
  StartAt: 'LookAtMe',
  States: {
    LookAtMe: {
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution',
      Parameters: { 'ExecutionArn.$': '$$.Execution.Id' },
      ResultSelector: { 'status.$': '$.Status' },
      Retry: [
        { ErrorEquals: ['Sfn.ThrottlingException'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught', ResultPath: '$.error' }],
      End: true,
    },
    Caught: { Type: 'Pass', End: true },
  },
} as unknown as StateMachineDefinition;

function run(
  onServiceCall?: ConstructorParameters<typeof LocalStepFunctions>[0]['onServiceCall'],
  clock = new AutoClock(Date.UTC(2026, 11, 1)),
) {
  const stepFunctions = new LocalStepFunctions({
    clock,
    runTask: () => Promise.reject(new Error('no ECS here')),
    stateMachines: [{ logicalId: 'Look', arn: ARN, definition }],
    onServiceCall,
  });
  const record = stepFunctions.startExecution(
    { logicalId: 'Look', arn: ARN, definition },
    {},
    { name: 'one' },
  );
  return { record, done: stepFunctions.finished(record) };
}

test('each call passes through the hook with its execution, state and parameters; send() answers it', async () => {
  const calls: ExecutionServiceCall[] = [];
  const { record, done } = run((call, send) => {
    calls.push(call);
    return send();
  });
  await done;
  expect(calls).toEqual([
    {
      stateMachineArn: ARN,
      executionArn: record.executionArn,
      stateName: 'LookAtMe',
      resource: 'arn:aws:states:::aws-sdk:sfn:describeExecution',
      parameters: { ExecutionArn: record.executionArn },
    },
  ]);
  expect(record).toMatchObject({ status: 'SUCCEEDED', output: { status: 'RUNNING' } });
});

test("the hook's error is the state's: retried by its Retry (on the clock), then caught", async () => {
  const tried: number[] = [];
  const clock = new AutoClock(Date.UTC(2026, 11, 1));
  const { record, done } = run(async () => {
    tried.push(clock.now() - Date.UTC(2026, 11, 1));
    throw new StatesError('Sfn.ThrottlingException', 'Rate exceeded');
  }, clock);
  await done;
  // 1 try and 2 retries, 1 s then 2 s apart, then the Catch
  expect(tried).toEqual([0, 1000, 3000]);
  expect(record).toMatchObject({
    status: 'SUCCEEDED',
    output: { error: { Error: 'Sfn.ThrottlingException', Cause: 'Rate exceeded' } },
  });
});

test('without a hook the call is made as it is', async () => {
  const { record, done } = run();
  await done;
  expect(record).toMatchObject({ status: 'SUCCEEDED', output: { status: 'RUNNING' } });
});
