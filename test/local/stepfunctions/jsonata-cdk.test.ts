process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';

import { AutoClock } from '../../../local/clock';
import { type CfnTemplate, deployLocally } from '../../../local/cloudformation/template';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../../local/dynamodb/server';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import { loadStateMachines } from '../../../local/stepfunctions/definitions';
import { LocalStateMachine } from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

/**
 * A state machine written with aws-cdk-lib's `.jsonata()` constructs, synthesized, deployed
 * locally and run by the engine: what a stack's JSONata states do on `npm start`. The record it
 * writes to dynalite carries times from the engine's clock, exactly.
 */

const START = Date.UTC(2026, 11, 2, 3, 0, 0);

/** A stack of one table and one JSONata state machine that records each key with a TTL a day on. */
function recordingStack(): CfnTemplate {
  const stack = new Stack(new App(), 'JsonataStack', {
    env: { region: 'us-east-1', account: '000000000000' },
  });
  const table = new dynamodb.Table(stack, 'Records', {
    partitionKey: { name: 'key', type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: 'expiresAt',
  });
  const stamp = sfn.Pass.jsonata(stack, 'Stamp', {
    assign: { startedMs: '{% $toMillis($states.context.Execution.StartTime) %}' },
  });
  const hold = sfn.Wait.jsonata(stack, 'Hold', {
    time: sfn.WaitTime.seconds('{% $states.input.delaySeconds %}'),
  });
  const record = tasks.DynamoPutItem.jsonata(stack, 'Record', {
    table,
    item: {
      key: tasks.DynamoAttributeValue.fromString('{% $states.input.key %}'),
      expiresAt: tasks.DynamoAttributeValue.numberFromString(
        '{% $string($floor($millis() / 1000) + 86400) %}',
      ),
      waitedSeconds: tasks.DynamoAttributeValue.numberFromString(
        '{% $string(($millis() - $startedMs) / 1000) %}',
      ),
    },
    outputs: { key: '{% $states.input.key %}', recorded: true },
  });
  const check = sfn.Choice.jsonata(stack, 'Check')
    .when(sfn.Condition.jsonata('{% $states.input.recorded %}'), sfn.Succeed.jsonata(stack, 'Done'))
    .otherwise(sfn.Fail.jsonata(stack, 'Lost', { error: 'Lost', cause: '{% $states.input.key %}' }));
  new sfn.StateMachine(stack, 'Recorder', {
    queryLanguage: sfn.QueryLanguage.JSONATA,
    definitionBody: sfn.DefinitionBody.fromChainable(stamp.next(hold).next(record).next(check)),
  });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

let local: LocalDynamoDb;
afterAll(() => local?.close());

test('a state machine of .jsonata() constructs runs as synthesized: Assign, Wait, DynamoDB Arguments, Choice Condition', async () => {
  const deployment = deployLocally(recordingStack(), { region: 'us-east-1' });
  local = await startLocalDynamoDb(deployment);
  const [recorder] = loadStateMachines(deployment);
  expect(recorder.definition.QueryLanguage).toBe('JSONata');

  const clock = new AutoClock(START);
  const engine = new LocalStateMachine(recorder.definition, {
    clock,
    tokens: new TaskTokens(clock),
    services: { dynamodb: local.stepFunctionsRequests },
  });
  const history = new ExecutionHistory(clock);
  const outcome = await engine.run(
    { key: 'incoming/a.csv', delaySeconds: 90 },
    {
      identity: {
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:Recorder:e',
        name: 'e',
        stateMachineArn: recorder.arn,
        startTime: new Date(START).toISOString(),
      },
      history,
    },
  );
  expect(outcome).toEqual({ status: 'SUCCEEDED', output: { key: 'incoming/a.csv', recorded: true } });
  expect(clock.now()).toBe(START + 90_000);

  const { Item } = await local.client.send(
    new GetItemCommand({ TableName: local.tables[0].tableName, Key: { key: { S: 'incoming/a.csv' } } }),
  );
  expect(Item).toEqual({
    key: { S: 'incoming/a.csv' },
    expiresAt: { N: String(START / 1000 + 90 + 86400) },
    waitedSeconds: { N: '90' },
  });
  expect(history.events.map((e) => e.type)).toEqual([
    'ExecutionStarted',
    'PassStateEntered',
    'PassStateExited',
    'WaitStateEntered',
    'WaitStateExited',
    'TaskStateEntered',
    'TaskScheduled',
    'TaskStarted',
    'TaskSucceeded',
    'TaskStateExited',
    'ChoiceStateEntered',
    'ChoiceStateExited',
    'SucceedStateEntered',
    'SucceedStateExited',
    'ExecutionSucceeded',
  ]);
});
