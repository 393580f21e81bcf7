import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

import { Monitoring } from '../../lib/monitoring';
import { freshStack } from './support/constructs';
import { Synthesized, synthesized } from './support/synth';
import { evaluate, logicalIdOf, onlyResource, Resource, stateMachineArn } from './support/template';

let byDefault: Synthesized;
let withEmail: Synthesized;
let alarms: Record<string, Resource>;

beforeAll(() => {
  // GIVEN the default configuration (no alarm email), and one with -c alarmEmail=ops@example.com
  byDefault = synthesized('default');
  withEmail = synthesized('alarmEmail');
  alarms = byDefault.template.findResources('AWS::CloudWatch::Alarm') as Record<string, Resource>;
});

/** Namespace, metric name and dimensions of an alarm, intrinsics as placeholders. */
function watched(alarm: Resource) {
  const { Namespace, MetricName, Dimensions } = alarm.Properties;
  return evaluate(byDefault.template, { Namespace, MetricName, Dimensions });
}

describe('Monitoring: alarms', () => {
  test('there are exactly sixteen: one per failure signal, each on the right resource, the vCPU quota alarm, five launch gate alarms and one on object recording', () => {
    const on = (stateMachine: string) => (MetricName: string) => ({
      Namespace: 'AWS/States',
      MetricName,
      Dimensions: [{ Name: 'StateMachineArn', Value: stateMachineArn(stateMachine) }],
    });
    const onWorkflow = on(byDefault.ids.workflowStateMachine);
    const onBackfill = on(byDefault.ids.backfillStateMachine);
    const singleMetric = Object.values(alarms).filter((a) => a.Properties.MetricName !== undefined);
    expect(singleMetric).toHaveLength(14);
    const repairs = (MetricName: string) => ({
      Namespace: 'S3FargatePipeline/LaunchGate',
      MetricName,
      Dimensions: [{ Name: 'Table', Value: `<${byDefault.ids.launchGateTable}>` }],
    });
    expect(singleMetric.map(watched)).toEqual(
      expect.arrayContaining([
        onWorkflow('ExecutionsFailed'),
        onWorkflow('ExecutionsTimedOut'),
        // (the CloudWatch metric is "ExecutionThrottled", singular, unlike its siblings)
        onWorkflow('ExecutionThrottled'),
        onWorkflow('ExecutionsAborted'),
        onBackfill('ExecutionsFailed'),
        onBackfill('ExecutionsTimedOut'),
        onBackfill('ExecutionsAborted'),
        {
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: `<${byDefault.ids.deadLetterQueue}.QueueName>` }],
        },
        {
          Namespace: 'AWS/Events',
          MetricName: 'FailedInvocations',
          Dimensions: [{ Name: 'RuleName', Value: `<${byDefault.ids.rule}>` }],
        },
        repairs('Repairs'),
        repairs('HoldersNotRunning'),
        repairs('WaitersWokenIntoFreeSlots'),
        on(byDefault.ids.launchGateCleanup)('ExecutionsFailed'),
        on(byDefault.ids.launchGateReconciler)('ExecutionsFailed'),
      ]),
    );
    expect(Object.keys(alarms)).toHaveLength(16);
    // AND the two math alarms: the vCPU quota, and a failed run of the recorder or its sweep
    const recording = Object.values(alarms).find((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('FILL(recorder, 0) + FILL(sweep, 0)'),
    );
    expect(JSON.stringify(recording?.Properties.Metrics)).toContain(
      `"Ref":"${byDefault.ids.objectRecorder}"`,
    );
    expect(JSON.stringify(recording?.Properties.Metrics)).toContain(
      `"Ref":"${byDefault.ids.objectRecordSweep}"`,
    );
  });

  test('the dashboard shows p50 and p99 of waiting, launch and run times from the per-object execution logs', () => {
    const { resource } = onlyResource(byDefault.template, 'AWS::CloudWatch::Dashboard');
    const body = String(evaluate(byDefault.template, resource.Properties.DashboardBody));
    for (const name of ['waiting', 'launch', 'run']) {
      expect(body).toContain(`as ${name}P50`);
      expect(body).toContain(`as ${name}P99`);
    }
    expect(body).toContain(`<${byDefault.ids.workflowLogGroup}>`);
    expect(body).toContain(`<${byDefault.ids.backfillLogGroup}>`);
    expect(body).toContain('parse details.output /\\"CreatedAt\\":(?<CreatedAt>\\\\d+)/');
  });

  test('the event-driven workflow has four execution alarms, the backfill three (its runs are started by hand, so no throttle alarm)', () => {
    const onStateMachine = (id: string) =>
      Object.values(alarms)
        .filter(
          (a) =>
            JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: id } }]),
        )
        .map((a) => a.Properties.MetricName)
        .sort();
    expect(onStateMachine(byDefault.ids.workflowStateMachine)).toEqual([
      'ExecutionThrottled',
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(onStateMachine(byDefault.ids.backfillStateMachine)).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(Object.values(alarms).filter((a) => a.Properties.Namespace === 'AWS/States')).toHaveLength(9);
  });

  test.each([
    'ExecutionsFailed',
    'ExecutionsTimedOut',
    'ExecutionThrottled',
    'ExecutionsAborted',
    'ApproximateNumberOfMessagesVisible',
    'FailedInvocations',
  ])('%s fires on a single occurrence and notifies the alarm topic', (metricName) => {
    byDefault.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: metricName,
      AlarmActions: [{ Ref: byDefault.ids.alarmTopic }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp('\\S'),
    });
  });

  test('every alarm has exactly the topic as its action, and nothing else', () => {
    for (const alarm of Object.values(alarms)) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: byDefault.ids.alarmTopic }]);
      expect(alarm.Properties.OKActions).toBeUndefined();
      expect(alarm.Properties.ActionsEnabled).not.toBe(false);
    }
  });

  test('count metrics are summed and queue depth is its maximum, over 5 minutes (idle slots: 1 minute, the reconciler period)', () => {
    for (const alarm of Object.values(alarms).filter((a) => a.Properties.MetricName !== undefined)) {
      const queueDepth = alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible';
      const idleSlots = alarm.Properties.MetricName === 'WaitersWokenIntoFreeSlots';
      expect(alarm.Properties).toMatchObject({
        Period: idleSlots ? 60 : 300,
        Statistic: queueDepth ? 'Maximum' : 'Sum',
      });
    }
  });
});

describe('Monitoring: Fargate vCPU quota alarm', () => {
  let alarm: Resource;
  beforeAll(() => {
    const [found, ...more] = Object.values(alarms).filter((a) =>
      JSON.stringify(a.Properties.Metrics ?? '').includes('SERVICE_QUOTA'),
    );
    expect(more).toHaveLength(0);
    alarm = found;
  });

  test("fires when On-Demand vCPU usage passes 80% of the account's quota (AWS/Usage against SERVICE_QUOTA)", () => {
    expect(alarm.Properties).toMatchObject({
      Threshold: 80,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: byDefault.ids.alarmTopic }],
    });
    const metrics = alarm.Properties.Metrics as Array<{
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { Dimensions: unknown[] } };
    }>;
    const expression = metrics.find((m) => m.Expression);
    expect(expression).toMatchObject({ ReturnData: true });
    const [usageId] =
      /^(\w+) \/ SERVICE_QUOTA\((\w+)\) \* 100$/.exec(expression?.Expression ?? '')?.slice(1) ?? [];
    expect(expression?.Expression).toBe(`${usageId} / SERVICE_QUOTA(${usageId}) * 100`);
    expect(metrics.find((m) => m.Id === usageId)).toEqual({
      Id: usageId,
      ReturnData: false,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/Usage',
          MetricName: 'ResourceCount',
          Dimensions: expect.arrayContaining([
            { Name: 'Service', Value: 'Fargate' },
            { Name: 'Type', Value: 'Resource' },
            { Name: 'Resource', Value: 'vCPU' },
            { Name: 'Class', Value: 'Standard/OnDemand' },
          ]),
        },
        Period: 60,
        Stat: 'Maximum',
      },
    });
    expect(metrics.find((m) => m.Id === usageId)?.MetricStat?.Metric.Dimensions).toHaveLength(4);
  });
});

describe('Monitoring: launch gate alarms', () => {
  const alarmOn = (metricName: string) =>
    Object.entries(alarms).find(([, a]) => a.Properties.MetricName === metricName) ?? [];

  test('any repair, and holders whose execution had ended, fire on one occurrence', () => {
    for (const metricName of ['Repairs', 'HoldersNotRunning']) {
      expect(alarmOn(metricName)[1]?.Properties).toMatchObject({
        Threshold: 1,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  test('a waiter woken into a free slot in two reconciler periods running fires: a slot idle while someone waits for longer than one period', () => {
    const [id, alarm] = alarmOn('WaitersWokenIntoFreeSlots');
    expect(id).toMatch(/LaunchSlotsIdleWhileWaiting/);
    expect(alarm?.Properties).toMatchObject({
      Period: 60,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
    });
  });

  test("none reads the account's Fargate usage (another workload could hide or raise it)", () => {
    const gateAlarms = Object.entries(alarms).filter(([id]) => /LaunchGate|LaunchSlots/.test(id));
    expect(gateAlarms).toHaveLength(5);
    for (const [, alarm] of gateAlarms) expect(JSON.stringify(alarm)).not.toContain('AWS/Usage');
  });
});

describe('Monitoring: alarm topic', () => {
  test('there is one topic, and no subscription unless alarmEmail is set', () => {
    byDefault.template.resourceCountIs('AWS::SNS::Topic', 1);
    byDefault.template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(onlyResource(byDefault.template, 'AWS::SNS::Topic').id).toBe(byDefault.ids.alarmTopic);
  });

  test('with alarmEmail, the address is subscribed to the topic by email', () => {
    withEmail.template.resourceCountIs('AWS::SNS::Subscription', 1);
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: withEmail.ids.alarmTopic },
    });
  });

  test('its policy denies publishing over anything but TLS', () => {
    const topic = byDefault.ids.alarmTopic;
    byDefault.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: { Ref: topic },
          }),
        ]),
      },
    });
  });

  // Failed with the TLS Deny as the policy's only statement: a topic policy replaces SNS's
  // default access policy, so no alarm could notify (evaluated in test/lib/iam/).
  test("its policy lets CloudWatch publish for this account's alarms only", () => {
    const topic = byDefault.ids.alarmTopic;
    const policy = onlyResource(byDefault.template, 'AWS::SNS::TopicPolicy').resource;
    expect(policy.Properties.Topics).toEqual([{ Ref: topic }]);
    const statements = evaluate(byDefault.template, policy.Properties.PolicyDocument) as {
      Statement: Record<string, unknown>[];
    };
    expect(statements.Statement.filter((s) => s.Effect === 'Allow')).toEqual([
      {
        Sid: 'AllowThisAccountsAlarms',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: `<${topic}>`,
        Condition: {
          StringEquals: { 'aws:SourceAccount': '123456789012' },
          ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:*' },
        },
      },
    ]);
  });
});

describe('Monitoring: dashboard', () => {
  type Widget = { type: string; properties: { title: string; metrics?: unknown[][]; alarms?: string[] } };
  let widgets: Widget[];

  beforeAll(() => {
    const { resource } = onlyResource(byDefault.template, 'AWS::CloudWatch::Dashboard');
    const body = evaluate(byDefault.template, resource.Properties.DashboardBody);
    if (typeof body !== 'string') throw new Error('DashboardBody did not evaluate to a string');
    widgets = (JSON.parse(body) as { widgets: Widget[] }).widgets;
  });

  /** Every metric graphed, as "Namespace MetricName DimensionName DimensionValue". */
  function graphed(): string[] {
    return widgets.flatMap((w) =>
      (w.properties.metrics ?? []).map((m) => m.filter((part) => typeof part === 'string').join(' ')),
    );
  }

  test('graphs executions started, succeeded and failed, and execution time, of the event-driven workflow', () => {
    const workflow = `StateMachineArn ${stateMachineArn(byDefault.ids.workflowStateMachine)}`;
    expect(graphed()).toEqual(
      expect.arrayContaining([
        `AWS/States ExecutionsStarted ${workflow}`,
        `AWS/States ExecutionsSucceeded ${workflow}`,
        `AWS/States ExecutionsFailed ${workflow}`,
        `AWS/States ExecutionTime ${workflow}`,
      ]),
    );
  });

  test('graphs execution time at p50, p90 and maximum', () => {
    const stats = widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .filter((m) => m[1] === 'ExecutionTime')
      .map((m) => (m[m.length - 1] as { stat: string }).stat);
    expect(stats.sort()).toEqual(['Maximum', 'p50', 'p90']);
  });

  test('graphs the dead-letter queue depth', () => {
    expect(graphed()).toContain(
      `AWS/SQS ApproximateNumberOfMessagesVisible QueueName <${byDefault.ids.deadLetterQueue}.QueueName>`,
    );
  });

  test('graphs On-Demand vCPU usage as a share of the quota, and the executions in flight', () => {
    const expressions = widgets
      .flatMap((w) => w.properties.metrics ?? [])
      .map((m) => (m[0] as { expression?: string }).expression)
      .filter((e) => e !== undefined);
    expect(expressions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\w+ \/ SERVICE_QUOTA\(\w+\) \* 100$/),
        expect.stringMatching(
          /^RUNNING_SUM\(FILL\(started, 0\) - FILL\(succeeded, 0\) - FILL\(failed, 0\) - FILL\(timedOut, 0\) - FILL\(aborted, 0\)\)$/,
        ),
      ]),
    );
    expect(graphed()).toEqual(
      expect.arrayContaining([
        'AWS/Usage ResourceCount Class Standard/OnDemand Resource vCPU Service Fargate Type Resource',
      ]),
    );
  });

  test("graphs the launch gate reconciler's repairs", () => {
    const table = `Table <${byDefault.ids.launchGateTable}>`;
    expect(graphed()).toEqual(
      expect.arrayContaining(
        ['HoldersNotRunning', 'WaitersWokenIntoFreeSlots', 'WaitersGone', 'Repairs'].map(
          (name) => `S3FargatePipeline/LaunchGate ${name} ${table}`,
        ),
      ),
    );
  });

  test('shows the state of all sixteen alarms', () => {
    const shown = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms ?? []);
    expect(shown.sort()).toEqual(
      Object.keys(alarms)
        .map((id) => `<${id}.Arn>`)
        .sort(),
    );
  });
});

describe('Monitoring built alone', () => {
  const build = (alarmEmail?: string) => {
    // GIVEN the construct alone in a fresh stack, with its own state machines, queue and rule
    const stack = freshStack();
    const stateMachine = (id: string) =>
      new sfn.StateMachine(stack, id, {
        definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, `${id}Pass`)),
      });
    const props = {
      stateMachine: stateMachine('Workflow'),
      backfillStateMachine: stateMachine('Backfill'),
      deadLetterQueue: new sqs.Queue(stack, 'Queue'),
      rule: new events.Rule(stack, 'Rule', { eventPattern: { source: ['aws.s3'] } }),
      launchGateTable: new dynamodb.Table(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      }),
      launchGateHousekeeping: { cleanup: stateMachine('Cleanup'), reconciler: stateMachine('Reconciler') },
      objectRecording: { recorder: stateMachine('Recorder'), sweep: stateMachine('Sweep') },
      executionLogGroups: [new logs.LogGroup(stack, 'WorkflowLogs')],
      alarmEmail,
    };
    const monitoring = new Monitoring(stack, 'Monitoring', props);
    return { stack, props, monitoring, template: Template.fromStack(stack) };
  };

  test('without alarmEmail there is no subscription; with it, the address is subscribed by email', () => {
    build().template.resourceCountIs('AWS::SNS::Subscription', 0);
    build('ops@example.com').template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  test('the backfill state machine gets failed, timed-out and aborted alarms; the workflow also a throttle alarm', () => {
    const { stack, props, template } = build();
    const metricsOn = (construct: sfn.StateMachine) =>
      Object.values(template.findResources('AWS::CloudWatch::Alarm'))
        .filter(
          (a) =>
            JSON.stringify(a.Properties.Dimensions) ===
            JSON.stringify([{ Name: 'StateMachineArn', Value: { Ref: logicalIdOf(stack, construct) } }]),
        )
        .map((a) => a.Properties.MetricName)
        .sort();
    expect(metricsOn(props.backfillStateMachine)).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(metricsOn(props.stateMachine)).toEqual([
      'ExecutionThrottled',
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
  });
});
