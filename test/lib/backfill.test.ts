import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';

import { Backfill } from '../../lib/backfill';
import type { ProcessObjectStepProps } from '../../lib/process-object-step';
import type { StateMachineLogProps } from '../../lib/traced-state-machine';
import {
  AslDefinition,
  AslMapState,
  backfillMapOf,
  definitionOf,
  longestTaskTimeSeconds,
  statesOfType,
} from './support/asl';
import { definitionIn, freshStack, LOG_PROPS, only, stepProps } from './support/constructs';
import { iamPatternMatches, roleIdFromArn, Statement, statementsOfRole } from './support/iam';
import { Synthesized, synthesized } from './support/synth';
import { evaluate, logicalIdOf, onlyResource, STACK_UUID, stateMachineArn } from './support/template';

let byDefault: Synthesized;
let concurrent: Synthesized;
let definition: AslDefinition;
let mapName: string;
let map: AslMapState;

beforeAll(() => {
  // GIVEN the default configuration, and one with -c backfillConcurrency=25
  byDefault = synthesized('default');
  concurrent = synthesized('backfillConcurrency');
  definition = definitionOf(byDefault, { stateMachine: byDefault.ids.backfillStateMachine });
  [mapName, map] = backfillMapOf(byDefault);
});

function backfillRoleStatements(synth: Synthesized): Statement[] {
  const resource = synth.template.toJSON().Resources[synth.ids.backfillStateMachine];
  return statementsOfRole(synth.template, roleIdFromArn(resource.Properties.RoleArn));
}

describe('Backfill: state machine', () => {
  test('is a second Standard state machine, next to the event-driven one', () => {
    // (and four Express ones: the gate's cleanup and reconciler, the object recorder and its sweep)
    byDefault.template.resourceCountIs('AWS::StepFunctions::StateMachine', 6);
    expect(
      Object.keys(
        byDefault.template.findResources('AWS::StepFunctions::StateMachine', {
          Properties: { StateMachineType: 'STANDARD' },
        }),
      ).sort(),
    ).toEqual([byDefault.ids.backfillStateMachine, byDefault.ids.workflowStateMachine].sort());
    expect(byDefault.ids.backfillStateMachine).not.toBe(byDefault.ids.workflowStateMachine);
    const resource = byDefault.template.toJSON().Resources[byDefault.ids.backfillStateMachine];
    expect(resource.Type).toBe('AWS::StepFunctions::StateMachine');
    expect(resource.Properties.StateMachineType).toBe('STANDARD');
  });

  test('logs every event with execution data to its own log group, with X-Ray tracing', () => {
    const { backfillStateMachine, backfillLogGroup, workflowLogGroup } = byDefault.ids;
    expect(backfillLogGroup).not.toBe(workflowLogGroup);
    const resource = byDefault.template.toJSON().Resources[backfillStateMachine];
    expect(resource.Properties.LoggingConfiguration).toEqual({
      Level: 'ALL',
      IncludeExecutionData: true,
      Destinations: [
        { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [backfillLogGroup, 'Arn'] } } },
      ],
    });
    expect(resource.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(byDefault.template.toJSON().Resources[backfillLogGroup].Properties.RetentionInDays).toBe(30);
  });

  test("its log group is named under /aws/vendedlogs/states/, apart from the workflow's", () => {
    // (AWS::StackId evaluates to arn:aws:cloudformation:us-east-1:123456789012:stack/TestPipeline/51af3dc0-da77-11e4-872e-1234567db123)
    const name = evaluate(
      byDefault.template,
      byDefault.template.toJSON().Resources[byDefault.ids.backfillLogGroup].Properties.LogGroupName,
    );
    expect(name).toBe('/aws/vendedlogs/states/TestPipeline-Backfill-51af3dc0-da77-11e4-872e-1234567db123');
  });

  // Failed with the backfill as first written: its timeout is a fixed 7 days, but
  // config.ts accepts a task timeout of up to 7 days, and spot-with-fallback runs a task
  // twice, so a run over even one object can be cut short by the backfill's own timeout.
  test.each(['default', 'spotWithFallback', 'longestTimeout'] as const)(
    "the execution timeout leaves room for one object's longest path (%s)",
    (name) => {
      const synth = synthesized(name);
      const backfill = definitionOf(synth, { stateMachine: synth.ids.backfillStateMachine });
      const [, { ItemProcessor }] = backfillMapOf(synth);
      expect(backfill.TimeoutSeconds).toBeGreaterThanOrEqual(longestTaskTimeSeconds(ItemProcessor, 3));
    },
  );

  test('is one Map state over the listing, with a 7-day execution timeout', () => {
    expect(Object.keys(definition.States)).toEqual([mapName]);
    expect(definition.StartAt).toBe(mapName);
    expect(map.End).toBe(true);
    expect(definition).toMatchObject({ QueryLanguage: 'JSONPath', TimeoutSeconds: 7 * 24 * 3600 });
  });
});

describe('Backfill: Distributed Map', () => {
  test('lists the data bucket under the execution input $.prefix with S3 ListObjectsV2', () => {
    expect(map.ItemReader).toEqual({
      Resource: expect.stringMatching(/:states:::s3:listObjectsV2$/),
      Parameters: { Bucket: `<${byDefault.ids.dataBucket}>`, 'Prefix.$': '$.prefix' },
    });
    expect(map.ItemReader).toMatchObject({ Resource: 'arn:aws:states:::s3:listObjectsV2' });
  });

  test('runs each object in its own Standard child execution', () => {
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
  });

  test('gives each child the input an "Object Created" event gives the event-driven workflow', () => {
    expect(map.ItemSelector).toEqual({
      bucket: `<${byDefault.ids.dataBucket}>`,
      'key.$': '$$.Map.Item.Value.Key',
      'etag.$': '$$.Map.Item.Value.Etag',
      'size.$': '$$.Map.Item.Value.Size',
      versionId: '',
    });
    // AND the same fields the rule's input transformer produces
    const rule = byDefault.template.toJSON().Resources[byDefault.ids.rule];
    const template = (rule.Properties.Targets as { InputTransformer: { InputTemplate: string } }[])[0]
      .InputTransformer.InputTemplate;
    const eventFields = [...template.matchAll(/"(\w+)":/g)].map((m) => m[1]).sort();
    const itemFields = Object.keys(map.ItemSelector as object)
      .map((k) => k.replace(/\.\$$/, ''))
      .sort();
    expect(itemFields).toEqual(eventFields);
  });

  test('runs at most 10 objects at once by default, and backfillConcurrency when set', () => {
    expect(map.MaxConcurrency).toBe(10);
    const [, configured] = backfillMapOf(concurrent);
    expect(configured.MaxConcurrency).toBe(25);
    // (and nothing else changes with it)
    expect({ ...configured, MaxConcurrency: 10 }).toEqual(map);
  });

  test('tolerates up to 10% failed objects and discards the results (ResultPath null)', () => {
    expect(map.ToleratedFailurePercentage).toBe(10);
    expect(map).toHaveProperty('ResultPath', null);
    expect(map.ResultSelector).toBeUndefined();
  });

  // (that its item processor is exactly the event-driven workflow's states, the same task
  // definition, overrides, retries and catch, in every capacity mode, is asserted in
  // process-object-step.test.ts: "ProcessObjectStep is shared with the backfill")
});

describe('Backfill: state machine role', () => {
  test('may list the data bucket (the ItemReader), and only that bucket', () => {
    const listing = backfillRoleStatements(byDefault).filter((s) =>
      s.Action.some((a) => iamPatternMatches(a, 's3:ListBucket', true)),
    );
    expect(listing).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`<${byDefault.ids.dataBucket}.Arn>`],
      }),
    ]);
  });

  test('may read no object: only the worker does', () => {
    const s3Actions = backfillRoleStatements(byDefault)
      .flatMap((s) => s.Action)
      .filter((a) => a.startsWith('s3:'));
    expect(s3Actions).toEqual(['s3:ListBucket']);
  });

  test('may start its own child executions, and no other state machine', () => {
    const starts = backfillRoleStatements(byDefault).filter((s) =>
      s.Action.some((a) => iamPatternMatches(a, 'states:StartExecution', true)),
    );
    expect(starts).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['states:StartExecution'],
        Resource: [stateMachineArn(byDefault.ids.backfillStateMachine)],
      }),
    ]);
  });

  test('may run the worker family (any revision) in its cluster, as the event-driven workflow may', () => {
    const runTask = backfillRoleStatements(byDefault).filter((s) => s.Action.includes('ecs:RunTask'));
    const workflow = byDefault.template.toJSON().Resources[byDefault.ids.workflowStateMachine];
    const workflowRunTask = statementsOfRole(
      byDefault.template,
      roleIdFromArn(workflow.Properties.RoleArn),
    ).filter((s) => s.Action.includes('ecs:RunTask'));
    expect(runTask).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['ecs:RunTask'],
        Condition: { ArnEquals: { 'ecs:cluster': `<${byDefault.ids.cluster}.Arn>` } },
      }),
    ]);
    expect(runTask[0].Resource).toEqual(workflowRunTask[0].Resource);
    expect(runTask[0].Resource[0]).toContain(
      `<${onlyResource(byDefault.template, 'AWS::ECS::TaskDefinition').id}>`,
    );
    expect(runTask[0].Resource[0]).toMatch(/:\*$/);
  });
});

describe('Backfill built alone', () => {
  const build = (
    overrides: Partial<ProcessObjectStepProps> = {},
    maxConcurrency = 7,
    logProps: StateMachineLogProps = LOG_PROPS,
  ) => {
    // GIVEN the construct alone in a fresh stack, with its own bucket
    const stack = freshStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const backfill = new Backfill(stack, 'Backfill', {
      ...stepProps(stack, overrides),
      ...logProps,
      bucket,
      maxConcurrency,
    });
    const definition = definitionIn(stack, backfill.stateMachine);
    const [map] = Object.values(statesOfType(definition, 'Map')) as AslMapState[];
    return { stack, bucket, backfill, definition, map };
  };

  test('maxConcurrency bounds the Map; it lists the given bucket under $.prefix', () => {
    const { stack, bucket, map } = build({}, 7);
    expect(map.MaxConcurrency).toBe(7);
    expect(map.ItemReader).toMatchObject({
      Resource: 'arn:aws:states:::s3:listObjectsV2',
      Parameters: { Bucket: `<${logicalIdOf(stack, bucket)}>`, 'Prefix.$': '$.prefix' },
    });
    expect(map.ToleratedFailurePercentage).toBe(10);
  });

  test("its timeout is 7 days, or one object's longest path when that is longer", () => {
    expect(build().definition.TimeoutSeconds).toBe(7 * 24 * 3600);
    const long = build({ capacity: 'spot-with-fallback', taskTimeout: Duration.days(7) });
    expect(long.definition.TimeoutSeconds).toBe(long.backfill.step.longestRun.toSeconds());
    expect(long.definition.TimeoutSeconds).toBeGreaterThan(7 * 24 * 3600);
  });

  test('its log group follows logRetention and logRemovalPolicy, is named for the stack and the construct, and receives the log', () => {
    // GIVEN a week, deleted with the stack
    const { stack, backfill } = build();
    const group = only(stack, 'AWS::Logs::LogGroup');
    expect(group.Properties.RetentionInDays).toBe(7);
    expect([group.DeletionPolicy, group.UpdateReplacePolicy]).toEqual(['Delete', 'Delete']);
    // (the fresh stack is named Alone; the last part of AWS::StackId evaluates to STACK_UUID)
    const template = Template.fromStack(stack);
    expect(evaluate(template, group.Properties.LogGroupName)).toBe(
      `/aws/vendedlogs/states/Alone-Backfill-${STACK_UUID}`,
    );
    expect(only(stack, 'AWS::StepFunctions::StateMachine').Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      Destinations: [
        {
          CloudWatchLogsLogGroup: {
            LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(stack, backfill.logGroup), 'Arn'] },
          },
        },
      ],
    });
    // GIVEN a month, retained
    const retained = only(
      build({}, 7, { logRetention: logs.RetentionDays.ONE_MONTH, logRemovalPolicy: RemovalPolicy.RETAIN })
        .stack,
      'AWS::Logs::LogGroup',
    );
    expect(retained.Properties.RetentionInDays).toBe(30);
    expect([retained.DeletionPolicy, retained.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
  });
});
