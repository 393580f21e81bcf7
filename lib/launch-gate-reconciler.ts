import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import { createExpressStateMachine } from './express-state-machine';
import {
  addHolder,
  ARRIVAL_INDEX,
  GATE_CALL_TIMEOUT,
  type LaunchGate,
  RELEASE_RETRY,
  SLOTS_KEY,
  SLOTS_TAKEN,
  STALE_TOKEN_ERRORS,
  stringSetOf,
  tableCall,
  WAITERS_PARTITION,
} from './launch-gate';
import { acknowledgeWildcardResource } from './nag-acknowledgements';
import type { StateMachineLogProps } from './traced-state-machine';

/** How often the reconciler runs: the longest a missed event or a lost answer can idle a slot. */
export const RECONCILER_PERIOD = Duration.minutes(1);
/** The oldest waiters one run looks at (each run wakes at most this many into free slots). */
export const WAITERS_PER_RUN = 10;
/** Where the reconciler publishes its repairs. */
export const REPAIR_NAMESPACE = 'S3FargatePipeline/LaunchGate';
/**
 * The repairs, each a metric (dimension `Table`, the gate's table) with one data point per repair, and
 * `Repairs` for any of them. Nothing is published while nothing is repaired.
 */
export const REPAIR_METRICS = {
  /** A holder whose execution is not RUNNING (or no longer exists) was released. */
  staleHolder: 'HoldersNotRunning',
  /** A waiter was woken by the reconciler: a slot was free (or its wake-up was lost) while it waited. */
  wokenWaiter: 'WaitersWokenIntoFreeSlots',
  /** A waiter item whose execution had stopped waiting was deleted. */
  staleWaiter: 'WaitersGone',
  any: 'Repairs',
} as const;

export interface LaunchGateReconcilerProps extends StateMachineLogProps {
  readonly gate: LaunchGate;
  /** The state machines whose executions claim slots (their Distributed Map children included). */
  readonly stateMachines: sfn.StateMachine[];
}

/**
 * Heals what the workflow's release and the cleanup rule missed (a best-effort event that never
 * came, an answer lost, a caller stopped mid-hand-on), every RECONCILER_PERIOD, from the truth: an
 * EventBridge Scheduler schedule starts an Express state machine that
 * 1. writes the deployed slot count into the slot item's `limit` (so a deploy that changes
 *    fargateVcpuQuota acts on every execution within a period);
 * 2. asks DescribeExecution about every holder and releases each that is not RUNNING or no longer
 *    exists;
 * 3. takes the WAITERS_PER_RUN oldest waiters one at a time: one no longer in line with the token the
 *    run read (woken meanwhile) is skipped; one whose execution is not RUNNING has its item deleted;
 *    any other is granted a slot on the claim's own condition (free slots only, or the one it already
 *    holds) and woken: a waiter left in line while a slot was free, or whose wake-up was lost, runs;
 *    one that stopped waiting is deleted;
 * 4. publishes one data point per repair (REPAIR_METRICS), which the alarms watch.
 * The gate keeps no count apart from its records (the holders set is the count), so there is nothing
 * else to re-derive.
 */
export class LaunchGateReconciler extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: LaunchGateReconcilerProps) {
    super(scope, id);
    const { gate } = props;
    const table = gate.table;
    const slotsKey = { pk: { S: SLOTS_KEY.pk }, sk: { S: SLOTS_KEY.sk } };
    const retryUnlessRefused = [{ errors: [SLOTS_TAKEN], maxAttempts: 0 }, RELEASE_RETRY];
    const dynamoCall = (
      stateId: string,
      action: 'updateItem' | 'query' | 'deleteItem',
      parameters: Record<string, unknown>,
      resultPath?: string,
    ) => tableCall(this, stateId, gate, action, { parameters, resultPath, retry: retryUnlessRefused });
    const report = (stateId: string, repair: string) => {
      const task = new PutMetricDataInNamespace(this, stateId, {
        service: 'cloudwatch',
        action: 'putMetricData',
        parameters: {
          Namespace: REPAIR_NAMESPACE,
          MetricData: [repair, REPAIR_METRICS.any].map((name) => ({
            MetricName: name,
            Dimensions: [{ Name: 'Table', Value: table.tableName }],
            Value: 1,
            Unit: 'Count',
          })),
        },
        iamAction: 'cloudwatch:PutMetricData',
        // PutMetricData takes no resource; the condition keeps the role to the gate's namespace.
        iamResources: ['*'],
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
      });
      task.addRetry(RELEASE_RETRY);
      return task;
    };

    // 1. The limit, and the holders as they are now.
    const writeLimit = dynamoCall(
      'WriteLaunchLimit',
      'updateItem',
      {
        Key: slotsKey,
        UpdateExpression: 'SET #limit = :limit',
        ExpressionAttributeNames: { '#limit': 'limit' },
        ExpressionAttributeValues: { ':limit': { N: String(gate.slots) } },
        ReturnValues: 'ALL_NEW',
      },
      '$.slots',
    );

    // 2. Each holder: still RUNNING, or released.
    const holderDone = new sfn.Succeed(this, 'HolderChecked');
    const releaseHolder = dynamoCall('ReleaseStaleHolder', 'updateItem', {
      Key: slotsKey,
      UpdateExpression: 'DELETE holders :holders',
      // Only a release that removed something is a repair.
      ConditionExpression: 'contains(holders, :holder)',
      ExpressionAttributeValues: {
        ':holders': stringSetOf('$.holder'),
        ':holder': { S: sfn.JsonPath.stringAt('$.holder') },
      },
    });
    releaseHolder.addCatch(holderDone, { errors: ['States.ALL'], resultPath: '$.error' });
    releaseHolder.next(report('ReportStaleHolder', REPAIR_METRICS.staleHolder));
    /** DescribeExecution of the ARN at `arnPath`: RUNNING goes to `running`, any other status or none to `ended`. */
    const describeExecution = (
      stateId: string,
      choiceId: string,
      arnPath: string,
      next: { running: sfn.IChainable; ended: sfn.IChainable; failed: sfn.IChainable },
    ) => {
      const describe = new tasks.CallAwsService(this, stateId, {
        service: 'sfn',
        action: 'describeExecution',
        parameters: { ExecutionArn: sfn.JsonPath.stringAt(arnPath) },
        iamAction: 'states:DescribeExecution',
        iamResources: props.stateMachines.flatMap((machine) => executionArnsOf(this, machine)),
        resultSelector: { 'status.$': '$.Status' },
        resultPath: '$.execution',
        taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
      });
      describe.addRetry({ errors: ['Sfn.ExecutionDoesNotExistException'], maxAttempts: 0 });
      describe.addRetry(RELEASE_RETRY);
      describe.addCatch(next.ended, {
        errors: ['Sfn.ExecutionDoesNotExistException'],
        resultPath: '$.error',
      });
      describe.addCatch(next.failed, { errors: ['States.ALL'], resultPath: '$.error' });
      return describe.next(
        new sfn.Choice(this, choiceId)
          .when(sfn.Condition.stringEquals('$.execution.status', 'RUNNING'), next.running)
          .otherwise(next.ended),
      );
    };
    const describe = describeExecution('DescribeHolder', 'IsHolderRunning', '$.holder', {
      running: holderDone,
      ended: releaseHolder,
      failed: holderDone,
    });
    const checkHolders = new sfn.Map(this, 'CheckHolders', {
      itemsPath: '$.slots.Attributes.holders.SS',
      itemSelector: { 'holder.$': '$$.Map.Item.Value' },
      maxConcurrency: 10,
      resultPath: sfn.JsonPath.DISCARD,
    });
    checkHolders.itemProcessor(describe);

    // 3. The oldest waiters: each gets a free slot (or the one it holds) and is woken.
    const waiterDone = new sfn.Succeed(this, 'WaiterChecked');
    const findWaiters = dynamoCall(
      'FindWaiters',
      'query',
      {
        IndexName: ARRIVAL_INDEX,
        KeyConditionExpression: 'pk = :waiters',
        ExpressionAttributeValues: { ':waiters': { S: WAITERS_PARTITION } },
        ConsistentRead: true,
        Limit: WAITERS_PER_RUN,
      },
      '$.line',
    );
    const grant = addHolder(
      this,
      'GrantWaiter',
      gate,
      '$.waiter.sk.S',
      'Gives the waiter a free slot, or the one it already holds (its wake-up was lost).',
      RELEASE_RETRY,
    );
    grant.addCatch(waiterDone, { errors: ['States.ALL'], resultPath: '$.error' });
    const wake = new tasks.CallAwsService(this, 'WakeWaiter', {
      service: 'sfn',
      action: 'sendTaskSuccess',
      parameters: { TaskToken: sfn.JsonPath.stringAt('$.waiter.taskToken.S'), Output: '{}' },
      iamResources: ['*'],
      iamAction: 'states:SendTaskSuccess',
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });
    wake.addRetry({ errors: STALE_TOKEN_ERRORS, maxAttempts: 0 });
    wake.addRetry(RELEASE_RETRY);
    const removeWaiter = (stateId: string, then: sfn.IChainable) => {
      const task = dynamoCall(stateId, 'deleteItem', {
        Key: { pk: { S: WAITERS_PARTITION }, sk: { S: sfn.JsonPath.stringAt('$.waiter.sk.S') } },
        ConditionExpression: 'taskToken = :token',
        ExpressionAttributeValues: { ':token': { S: sfn.JsonPath.stringAt('$.waiter.taskToken.S') } },
      });
      task.addCatch(waiterDone, { errors: ['States.ALL'], resultPath: '$.error' });
      task.next(then);
      return task;
    };
    const removeGone = removeWaiter(
      'RemoveGoneWaiter',
      report('ReportGoneWaiter', REPAIR_METRICS.staleWaiter),
    );
    wake.addCatch(removeGone, { errors: STALE_TOKEN_ERRORS, resultPath: '$.error' });
    wake.addCatch(waiterDone, { errors: ['States.ALL'], resultPath: '$.error' });
    wake.next(removeWaiter('RemoveWokenWaiter', report('ReportWokenWaiter', REPAIR_METRICS.wokenWaiter)));
    grant.next(wake);
    // Before granting, the waiter as it is now, not as the run found it: one woken meanwhile (its item
    // deleted, or replaced by a new wait's) is done, an outcome with nothing to retry; one whose
    // execution ended with its item left behind is deleted without a grant, which nobody would release
    // before the next run.
    const describeWaiter = describeExecution('DescribeWaiter', 'IsWaiterRunning', '$.waiter.sk.S', {
      running: grant,
      ended: removeGone,
      failed: waiterDone,
    });
    const readWaiter = tableCall(this, 'ReadWaiter', gate, 'getItem', {
      parameters: {
        Key: { pk: { S: WAITERS_PARTITION }, sk: { S: sfn.JsonPath.stringAt('$.waiter.sk.S') } },
        ProjectionExpression: 'taskToken',
        ConsistentRead: true,
      },
      resultPath: '$.inLine',
      retry: [RELEASE_RETRY],
    });
    readWaiter.addCatch(waiterDone, { errors: ['States.ALL'], resultPath: '$.error' });
    readWaiter.next(
      new sfn.Choice(this, 'IsWaiterStillInLine')
        .when(
          sfn.Condition.and(
            sfn.Condition.isPresent('$.inLine.Item.taskToken.S'),
            sfn.Condition.stringEqualsJsonPath('$.inLine.Item.taskToken.S', '$.waiter.taskToken.S'),
          ),
          describeWaiter,
        )
        .otherwise(waiterDone),
    );
    // One at a time, oldest first: each grant sees the slots the previous one took.
    const wakeWaiters = new sfn.Map(this, 'WakeWaiters', {
      itemsPath: '$.line.Items',
      itemSelector: { 'waiter.$': '$$.Map.Item.Value' },
      maxConcurrency: 1,
      resultPath: sfn.JsonPath.DISCARD,
    });
    wakeWaiters.itemProcessor(readWaiter);

    writeLimit.next(
      new sfn.Choice(this, 'AreSlotsHeld')
        .when(sfn.Condition.isPresent('$.slots.Attributes.holders.SS'), checkHolders)
        .otherwise(findWaiters),
    );
    checkHolders.next(findWaiters);
    // Without the slot item this run cannot check the holders, but it can still wake the waiters
    // (under the limit as stored): a slot free while someone waits is the costlier miss.
    writeLimit.addCatch(findWaiters, { errors: ['States.ALL'], resultPath: '$.error' });
    findWaiters.next(
      new sfn.Choice(this, 'IsAnyoneWaiting')
        .when(sfn.Condition.isPresent('$.line.Items[0]'), wakeWaiters)
        .otherwise(new sfn.Succeed(this, 'Reconciled')),
    );

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createExpressStateMachine(this, {
      ...props,
      comment:
        'Every minute: writes the launch limit, releases holders whose execution is not running, wakes waiters into free slots, publishes the repairs',
      definition: writeLimit,
    }));
    for (const machine of props.stateMachines) {
      for (const arn of executionArnsOf(this, machine)) {
        acknowledgeWildcardResource(
          this.stateMachine.role,
          arn,
          "DescribeExecution on the executions (and Distributed Map child executions) of the gate's own state machines, whose names exist only at run time.",
        );
      }
    }

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Reconciles the launch gate with the executions it stands for',
      schedule: scheduler.ScheduleExpression.rate(RECONCILER_PERIOD),
      // A run that could not start is replaced by the next one a period later.
      target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, { retryAttempts: 0 }),
    });
  }
}

/**
 * The ARNs of `machine`'s executions and of its Distributed Map child executions
 * (`execution:<name>/<map run label>:<child>`).
 */
export function executionArnsOf(scope: Construct, machine: sfn.StateMachine): string[] {
  return [`${machine.stateMachineName}:*`, `${machine.stateMachineName}/*`].map((resourceName) =>
    Stack.of(scope).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  );
}

/** PutMetricData takes no resource: its statement is limited to REPAIR_NAMESPACE by condition. */
class PutMetricDataInNamespace extends tasks.CallAwsService {
  constructor(scope: Construct, id: string, props: tasks.CallAwsServiceProps) {
    super(scope, id, props);
    for (const statement of this.taskPolicies ?? []) {
      statement.addCondition('StringEquals', { 'cloudwatch:namespace': REPAIR_NAMESPACE });
    }
  }
}
