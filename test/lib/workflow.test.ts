import aslValidator from 'asl-validator';
import { Match } from 'aws-cdk-lib/assertions';
import { STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY } from 'aws-cdk-lib/cx-api';

import { Workflow } from '../../lib/workflow';
import { definitionOf, longestTaskTimeSeconds, plausibleValues, statesOfType } from './support/asl';
import { definitionIn, freshStack, LOG_PROPS, only, stepProps } from './support/constructs';
import { iamPatternMatches, roleIdFromArn, Statement, statementsOfRole } from './support/iam';
import { CDK_JSON_CONTEXT, Synthesized, synthesized } from './support/synth';
import { evaluate, onlyResource, STACK_UUID, taskDefinitionArn } from './support/template';

const MODES = ['on-demand', 'spot', 'spot-with-fallback'] as const;

let synths: Record<(typeof MODES)[number], Synthesized>;
let byDefault: Synthesized;
let ids: {
  stateMachine: string;
  logGroup: string;
  taskDefinition: string;
  taskRole: string;
  executionRole: string;
};

beforeAll(() => {
  // GIVEN each capacity mode (on-demand is the default)
  synths = {
    'on-demand': synthesized('default'),
    spot: synthesized('spot'),
    'spot-with-fallback': synthesized('spotWithFallback'),
  };
  byDefault = synths['on-demand'];
  const taskDefinition = onlyResource(byDefault.template, 'AWS::ECS::TaskDefinition');
  ids = {
    stateMachine: byDefault.ids.workflowStateMachine,
    logGroup: byDefault.ids.workflowLogGroup,
    taskDefinition: taskDefinition.id,
    taskRole: roleIdFromArn(taskDefinition.resource.Properties.TaskRoleArn),
    executionRole: roleIdFromArn(taskDefinition.resource.Properties.ExecutionRoleArn),
  };
});

function stateMachineRoleStatements(synth: Synthesized): Statement[] {
  const id = synth.ids.workflowStateMachine;
  return statementsOfRole(
    synth.template,
    roleIdFromArn(synth.template.toJSON().Resources[id].Properties.RoleArn),
  );
}

describe('Workflow: state machine', () => {
  test('is a Standard state machine logging every event with execution data to its log group', () => {
    byDefault.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: Match.exact({
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [ids.logGroup, 'Arn'] } } }],
      }),
      TracingConfiguration: { Enabled: true },
    });
    const resource = byDefault.template.toJSON().Resources[ids.stateMachine];
    expect(resource.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('its log group has finite retention', () => {
    expect(byDefault.template.toJSON().Resources[ids.logGroup].Properties.RetentionInDays).toBe(30);
  });

  test('its log group is named under /aws/vendedlogs/states/, unique to the stack instance', () => {
    // (AWS::StackId evaluates to arn:aws:cloudformation:us-east-1:123456789012:stack/TestPipeline/<STACK_UUID>)
    const name = evaluate(
      byDefault.template,
      byDefault.template.toJSON().Resources[ids.logGroup].Properties.LogGroupName,
    );
    expect(name).toBe(`/aws/vendedlogs/states/TestPipeline-Workflow-${STACK_UUID}`);
  });

  test('the definition uses JSONPath and an execution timeout covering the capacity wait and every run', () => {
    const definition = definitionOf(byDefault);
    expect(definition.QueryLanguage).toBe('JSONPath');
    // the 12-hour wait in line, then three runs at most (two relaunches), each after its retries'
    // longest wait (~24 h for the 12-hour mean wait, plus 30 minutes of
    // ECS.InvalidParameterException on average), then the release (three rounds of its loop)
    expect(definition.TimeoutSeconds).toBeGreaterThanOrEqual(longestTaskTimeSeconds(definition, 3));
    expect(definition.TimeoutSeconds).toBeGreaterThan(12 * 3600 + 3 * (2 * 12 * 3600 + 3600));
  });

  // Fails for spot-with-fallback with lib/workflow.ts as written: its timeout is
  // taskTimeout + 30 min, but that mode can run two tasks in a row (an interrupted Spot run,
  // then an on-demand run), so a late interruption times the whole execution out mid-run.
  test.each(MODES)(
    'the execution timeout leaves room for every task run on the longest path (%s)',
    (mode) => {
      // GIVEN the most expensive path through the workflow (with Spot fallback: a Spot run
      // interrupted late, then an on-demand run)
      const definition = definitionOf(synths[mode]);
      // THEN the execution-wide timeout, a backstop, does not cut the last run short
      // (a task that failed to start is launched again, at most twice: up to 3 entries of a run)
      expect(definition.TimeoutSeconds).toBeGreaterThanOrEqual(longestTaskTimeSeconds(definition, 3));
    },
  );

  test.each(MODES)('the resolved definition is valid Amazon States Language (%s)', (mode) => {
    // GIVEN the definition with every CloudFormation token replaced by a plausible value
    const synth = synths[mode];
    for (const stateMachine of [synth.ids.workflowStateMachine, synth.ids.backfillStateMachine]) {
      const definition = definitionOf(synth, { stateMachine, values: plausibleValues(synth.template) });
      expect(JSON.stringify(definition)).not.toMatch(/<[A-Za-z0-9]+(\.[A-Za-z]+)?>/);
      // WHEN validated
      const result = aslValidator(structuredClone(definition));
      // THEN there are no errors
      expect(result.errorsText('\n')).toBe('');
      expect(result.isValid).toBe(true);
    }
  });

  test('asl-validator does reject a broken definition (the check above can fail)', () => {
    const definition = definitionOf(byDefault, { values: plausibleValues(byDefault.template) });
    const broken = structuredClone(definition);
    broken.States.RunWorker.Catch = [{ ErrorEquals: ['States.ALL'], Next: 'NoSuchState' }];
    expect(aslValidator(broken).isValid).toBe(false);
  });
});

describe('Workflow: state machine role (least privilege)', () => {
  test('the run-task policy fix is on in cdk.json, so the workflow must undo it for its own states', () => {
    // (on, aws-cdk-lib grants RunTask on the one deployed revision; its effect is undone below)
    expect(STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY).toBe(
      '@aws-cdk/aws-stepfunctions-tasks:fixRunEcsTaskPolicy',
    );
    expect(CDK_JSON_CONTEXT[STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY]).toBe(true);
  });

  test.each(MODES)('has no "*" action and no service-wide "service:*" action (%s)', (mode) => {
    const actions = stateMachineRoleStatements(synths[mode]).flatMap((s) => s.Action);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
  });

  // Failed with the task definition's own ARN as the resource: RunTask is given the family, so
  // ECS runs the latest revision, which a deploy registers before it updates this policy.
  test.each(MODES)('RunTask is allowed on any revision of the worker family, in its cluster (%s)', (mode) => {
    const synth = synths[mode];
    const runTask = stateMachineRoleStatements(synth).filter((s) =>
      s.Action.some((a) => iamPatternMatches(a, 'ecs:RunTask', true)),
    );
    expect(runTask).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['ecs:RunTask'],
        Condition: { ArnEquals: { 'ecs:cluster': `<${synth.ids.cluster}.Arn>` } },
      }),
    ]);
    const [resource] = runTask[0].Resource;
    expect(runTask[0].Resource).toHaveLength(1);
    // the task definition's ARN, its revision cut off, then ":*"
    expect(resource).toBe(taskDefinitionArn(ids.taskDefinition).replace(/:1$/, ':*'));
    expect(resource).toMatch(/:task-definition\/<\w+>:\*$/);
  });

  test('may stop and describe the tasks of its cluster only', () => {
    const polling = stateMachineRoleStatements(byDefault).filter((s) =>
      s.Action.some((a) => a === 'ecs:StopTask' || a === 'ecs:DescribeTasks'),
    );
    expect(polling).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['ecs:DescribeTasks', 'ecs:StopTask'],
        Condition: { ArnEquals: { 'ecs:cluster': `<${byDefault.ids.cluster}.Arn>` } },
      }),
    ]);
  });

  test('manages only the StepFunctionsGetEventsForECSTaskRule managed rule', () => {
    const events = stateMachineRoleStatements(byDefault).filter((s) =>
      s.Action.some((a) => a.startsWith('events:')),
    );
    expect(events).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: expect.arrayContaining(['events:PutTargets', 'events:PutRule', 'events:DescribeRule']),
        Resource: ['arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule'],
      }),
    ]);
    expect(events[0].Action).toHaveLength(3);
  });

  test('may pass exactly the task role and the execution role', () => {
    const passRole = stateMachineRoleStatements(byDefault).filter((s) => s.Action.includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(passRole[0].Action).toEqual(['iam:PassRole']);
    expect([...passRole[0].Resource].sort()).toEqual(
      [`<${ids.executionRole}.Arn>`, `<${ids.taskRole}.Arn>`].sort(),
    );
  });

  test('what it may do on any resource is limited to task polling, log delivery, X-Ray and waking a waiting execution', () => {
    const unscoped = stateMachineRoleStatements(byDefault).filter((s) => s.Resource.includes('*'));
    expect(unscoped.flatMap((s) => s.Action).sort()).toEqual(
      [
        'ecs:DescribeTasks',
        'ecs:StopTask',
        'logs:CreateLogDelivery',
        'logs:DeleteLogDelivery',
        'logs:DescribeLogGroups',
        'logs:DescribeResourcePolicies',
        'logs:GetLogDelivery',
        'logs:ListLogDeliveries',
        'logs:PutResourcePolicy',
        'logs:UpdateLogDelivery',
        // SendTaskSuccess has no resource-level permissions: the task token names the task
        'states:SendTaskSuccess',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
  });

  test('has no S3 access: only the worker touches objects', () => {
    const actions = stateMachineRoleStatements(byDefault).flatMap((s) => s.Action);
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual([]);
  });
});

describe('Workflow built alone', () => {
  test('one Standard state machine running the step, its timeout the longest path, its log group as the log props say', () => {
    // GIVEN the construct alone in a fresh stack
    const stack = freshStack();
    const workflow = new Workflow(stack, 'Workflow', { ...stepProps(stack), ...LOG_PROPS });
    // THEN
    const stateMachine = only(stack, 'AWS::StepFunctions::StateMachine');
    expect(stateMachine.Properties.StateMachineType).toBe('STANDARD');
    const definition = definitionIn(stack, workflow.stateMachine);
    expect(definition.TimeoutSeconds).toBe(workflow.step.longestRun.toSeconds());
    expect(definition.StartAt).toBe(workflow.step.startState.stateId);
    expect(definition.StartAt).toBe('RecordObject');
    const group = only(stack, 'AWS::Logs::LogGroup');
    expect(group.Properties.RetentionInDays).toBe(7);
    expect([group.DeletionPolicy, group.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
  });

  test('capacity spot-with-fallback gives it a Spot and an on-demand run, and a longer timeout', () => {
    const build = (capacity: 'on-demand' | 'spot-with-fallback') => {
      const stack = freshStack();
      const workflow = new Workflow(stack, 'Workflow', { ...stepProps(stack, { capacity }), ...LOG_PROPS });
      return definitionIn(stack, workflow.stateMachine);
    };
    const onDemand = build('on-demand');
    const fallback = build('spot-with-fallback');
    const runTaskStates = Object.entries(statesOfType(fallback, 'Task')).filter(([, state]) =>
      String(state.Resource).endsWith(':ecs:runTask.sync'),
    );
    expect(runTaskStates.map(([name]) => name).sort()).toEqual(['RunWorkerOnDemand', 'RunWorkerOnSpot']);
    expect(fallback.TimeoutSeconds).toBeGreaterThan(onDemand.TimeoutSeconds as number);
  });
});
