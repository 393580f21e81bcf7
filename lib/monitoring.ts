import { ArnFormat, Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { RECONCILER_PERIOD, REPAIR_METRICS, REPAIR_NAMESPACE } from './launch-gate-reconciler';

export interface MonitoringProps {
  /** The event-driven state machine: alarms on failed, timed-out, throttled and aborted executions. */
  readonly stateMachine: sfn.IStateMachine;
  /** The backfill state machine: alarms on failed, timed-out and aborted runs. */
  readonly backfillStateMachine: sfn.IStateMachine;
  /** The rule's dead-letter queue: an alarm as soon as an event waits there. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The trigger rule: an alarm on failed invocations. */
  readonly rule: events.IRule;
  /** The launch gate's table: its reconciler's repairs are published under its name. */
  readonly launchGateTable: dynamodb.ITable;
  /** The launch gate's cleanup and reconciler state machines: an alarm when a run of either fails. */
  readonly launchGateHousekeeping: {
    readonly cleanup: sfn.IStateMachine;
    readonly reconciler: sfn.IStateMachine;
  };
  /** The object recorder and its sweep: an alarm when a run of either fails (a record or event missed). */
  readonly objectRecording: {
    readonly recorder: sfn.IStateMachine;
    readonly sweep: sfn.IStateMachine;
  };
  /**
   * The execution logs of the per-object state machines (the workflow's and the backfill's): the
   * latency widget reads each succeeded execution's output there, which they log already.
   */
  readonly executionLogGroups: logs.ILogGroup[];
  /**
   * Subscribed to the alarm topic (the address must confirm the subscription).
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/**
 * How failures are seen: an SNS topic that every alarm notifies (optionally emailed),
 * alarms on failed, timed-out, throttled and aborted executions, on failed, timed-out and
 * aborted backfill runs, on events waiting in the dead-letter queue, on failed rule
 * invocations, on Fargate On-Demand vCPU usage nearing the account's quota, on every repair the
 * launch gate's reconciler makes and on its housekeeping failing, and a dashboard.
 */
export class Monitoring extends Construct {
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'S3 Fargate pipeline alarms',
      enforceSSL: true,
    });
    // A topic policy replaces SNS's default access policy, so without this statement no alarm
    // could ever notify. The conditions keep other accounts' alarms (a confused deputy) out.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: {
            'aws:SourceArn': Stack.of(this).formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const sm = props.stateMachine;
    const deadLetters = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: 'Maximum',
    });
    const failedInvocations = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'FailedInvocations',
      dimensionsMap: { RuleName: props.rule.ruleName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
    const alarmOn = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      this.alarms.push(alarm);
    };
    const sum = { period: Duration.minutes(5), statistic: 'Sum' };
    alarmOn(
      'ExecutionsFailed',
      sm.metricFailed(sum),
      'An object could not be processed: see the failed execution.',
    );
    alarmOn('ExecutionsTimedOut', sm.metricTimedOut(sum), 'An execution exceeded its timeout.');
    alarmOn('ExecutionsThrottled', sm.metricThrottled(sum), 'Step Functions throttled execution starts.');
    alarmOn(
      'ExecutionsAborted',
      sm.metricAborted(sum),
      'An execution was aborted (stopped by hand or by a deployment); the launch gate cleanup releases what it held.',
    );
    // A backfill is started by hand, so throttling shows in the CLI; these are what finish unseen.
    const backfill = props.backfillStateMachine;
    alarmOn(
      'BackfillFailed',
      backfill.metricFailed(sum),
      'A backfill run failed (more objects failed than it tolerates, or the listing could not be read): see its map run.',
    );
    alarmOn('BackfillTimedOut', backfill.metricTimedOut(sum), 'A backfill run exceeded its timeout.');
    alarmOn(
      'BackfillAborted',
      backfill.metricAborted(sum),
      'A backfill run was aborted (stopped by hand or by a deployment).',
    );
    alarmOn(
      'DeadLetters',
      deadLetters,
      'Events that could not start an execution are waiting in the dead-letter queue: replay them.',
    );
    alarmOn(
      'RuleFailedInvocations',
      failedInvocations,
      'EventBridge failed to start the state machine for an event.',
    );

    const recordingFailed = new cloudwatch.MathExpression({
      expression: 'FILL(recorder, 0) + FILL(sweep, 0)',
      usingMetrics: {
        recorder: props.objectRecording.recorder.metricFailed(sum),
        sweep: props.objectRecording.sweep.metricFailed(sum),
      },
      label: 'object recorder and sweep runs failed',
      period: Duration.minutes(5),
    });
    alarmOn(
      'ObjectRecordingFailed',
      recordingFailed,
      "An object recorder or record sweep run failed (see its log group): an object's record or result event may be missing until the sweep's next run.",
    );

    const { vcpuUsage, inFlight } = this.watchFargateQuota(sm);
    const repairs = this.watchLaunchGate(props.launchGateTable, props.launchGateHousekeeping);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [sm.metricStarted(sum), sm.metricSucceeded(sum), sm.metricFailed(sum)],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Execution (task) duration',
            left: ['p50', 'p90', 'Maximum'].map((statistic) =>
              sm.metricTime({ period: Duration.minutes(5), statistic, label: `duration ${statistic}` }),
            ),
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Dead-letter queue depth', left: [deadLetters], width: 12 }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Fargate On-Demand vCPU, % of the account quota',
            left: [vcpuUsage],
            leftAnnotations: [{ value: FARGATE_VCPU_ALARM_PERCENT, label: 'alarm' }],
            width: 12,
          }),
          new cloudwatch.GraphWidget({ title: 'Executions in flight', left: [inFlight], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Launch gate repairs', left: repairs, width: 12 }),
          latencyWidget(props.executionLogGroups),
        ],
      ],
    });
  }

  /**
   * Bursts queue as executions waiting for Fargate capacity: alarm before the account's On-Demand
   * vCPU quota is full (objects then wait, they do not fail), and count the executions in flight.
   */
  private watchFargateQuota(sm: sfn.IStateMachine) {
    const vcpu = fargateVcpu('Standard/OnDemand', Duration.minutes(1));
    const vcpuUsage = new cloudwatch.MathExpression({
      expression: 'vcpu / SERVICE_QUOTA(vcpu) * 100',
      usingMetrics: { vcpu },
      label: 'On-Demand vCPU in use, % of quota (L-3032A538)',
      period: Duration.minutes(1),
    });
    const alarm = vcpuUsage.createAlarm(this, 'FargateVcpuNearQuota', {
      threshold: FARGATE_VCPU_ALARM_PERCENT,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Fargate On-Demand vCPU usage passed ${FARGATE_VCPU_ALARM_PERCENT}% of the account quota: new objects wait for capacity. Raise the quota (L-3032A538) if this lasts; see docs/bursts-and-quotas.md.`,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);

    const count = { period: Duration.minutes(5), statistic: 'Sum' };
    const inFlight = new cloudwatch.MathExpression({
      expression:
        'RUNNING_SUM(FILL(started, 0) - FILL(succeeded, 0) - FILL(failed, 0) - FILL(timedOut, 0) - FILL(aborted, 0))',
      usingMetrics: {
        started: sm.metricStarted(count),
        succeeded: sm.metricSucceeded(count),
        failed: sm.metricFailed(count),
        timedOut: sm.metricTimedOut(count),
        aborted: sm.metricAborted(count),
      },
      label: 'started - finished (since the start of the graph)',
      period: Duration.minutes(5),
    });
    return { vcpuUsage, inFlight };
  }

  /**
   * The launch gate's health, from its reconciler (lib/launch-gate-reconciler.ts), which publishes one
   * data point per repair: an alarm on any repair, one on holders whose execution had ended, one on
   * waiters found with a slot free in two periods running (a slot idle while someone waits for longer
   * than one period), and one on a cleanup or reconciler run failing. None reads the account's Fargate
   * usage, so other workloads neither hide nor raise them.
   */
  private watchLaunchGate(
    table: dynamodb.ITable,
    housekeeping: MonitoringProps['launchGateHousekeeping'],
  ): cloudwatch.IMetric[] {
    const repair = (metricName: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: REPAIR_NAMESPACE,
        metricName,
        dimensionsMap: { Table: table.tableName },
        statistic: 'Sum',
        period,
      });
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, periods: number, description: string) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: 1,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(new actions.SnsAction(this.topic));
      this.alarms.push(created);
    };
    const fiveMinutes = Duration.minutes(5);
    alarm(
      'LaunchGateRepaired',
      repair(REPAIR_METRICS.any, fiveMinutes),
      1,
      'The launch gate reconciler repaired the gate (see its metrics for what): an event was missed or an answer lost. It heals on its own; if it keeps firing, see docs/launch-gate.md.',
    );
    alarm(
      'LaunchGateHoldersNotRunning',
      repair(REPAIR_METRICS.staleHolder, fiveMinutes),
      1,
      'The reconciler released launch slots held by executions that had ended: their status-change events were missed, or their release failed.',
    );
    alarm(
      'LaunchSlotsIdleWhileWaiting',
      repair(REPAIR_METRICS.wokenWaiter, RECONCILER_PERIOD),
      2,
      "Executions waited while launch slots were free, in two reconciler periods running: hand-ons are failing (see the workflow executions' ReleaseLaunchSlot path).",
    );
    for (const [alarmId, machine] of [
      ['LaunchGateCleanupFailed', housekeeping.cleanup],
      ['LaunchGateReconcilerFailed', housekeeping.reconciler],
    ] as const) {
      alarm(
        alarmId,
        machine.metricFailed({ period: fiveMinutes, statistic: 'Sum' }),
        1,
        'A launch gate cleanup or reconciler run failed: see its log group. The reconciler runs again within a minute.',
      );
    }
    return Object.values(REPAIR_METRICS).map((name) => repair(name, fiveMinutes));
  }
}

/**
 * p50 and p99 of each processed object's waiting, launch and run times (the recorder's
 * RecordDurations, shared/object-record.ts), from the execution output the per-object state machines
 * already log: no metric to pay for, only the query's scan when the dashboard is open ($0.005/GB).
 */
function latencyWidget(logGroups: logs.ILogGroup[]): cloudwatch.LogQueryWidget {
  const times = ['receivedAtMs', 'CreatedAt', 'StartedAt', 'StoppedAt'];
  const durations = {
    waiting: 'CreatedAt - receivedAtMs',
    launch: 'StartedAt - CreatedAt',
    run: 'StoppedAt - StartedAt',
  };
  return new cloudwatch.LogQueryWidget({
    title: 'Object latency, ms (p50, p99): waiting for capacity, launching, running',
    logGroupNames: logGroups.map((group) => group.logGroupName),
    view: cloudwatch.LogQueryVisualizationType.LINE,
    queryLines: [
      'filter type = "ExecutionSucceeded"',
      ...times.map((time) => `parse details.output /"${time}":(?<${time}>\\d+)/`),
      'filter ispresent(CreatedAt)',
      `stats ${Object.entries(durations)
        .flatMap(([name, expression]) => [50, 99].map((p) => `pct(${expression}, ${p}) as ${name}P${p}`))
        .join(', ')} by bin(5m)`,
    ],
    width: 12,
  });
}

/** The account's Fargate vCPU in use, of one capacity class (`Standard/OnDemand`, `Standard/Spot`). */
function fargateVcpu(vcpuClass: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Usage',
    metricName: 'ResourceCount',
    dimensionsMap: { Service: 'Fargate', Type: 'Resource', Resource: 'vCPU', Class: vcpuClass },
    statistic: 'Maximum',
    period,
  });
}

/** The share of the On-Demand vCPU quota in use past which the alarm fires. */
export const FARGATE_VCPU_ALARM_PERCENT = 80;
