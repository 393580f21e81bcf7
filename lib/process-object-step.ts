import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

import type { CapacityMode } from './config';
import { gateStates, type LaunchGate } from './launch-gate';
import {
  CAPACITY_ERRORS,
  INVALID_PARAMETER_ERRORS,
  INVALID_PARAMETER_WAIT,
  LAUNCH_ERRORS,
  launchAttemptCap,
  launchRetry,
  SPOT_CAPACITY_WAIT,
  worstWaitSeconds,
} from './launch-retry';
import { KEY_TOO_LONG, type ObjectRecords, recordStates } from './object-records';

/** ECS writes this stop code into the task description (the failure's Cause) when it reclaims Spot capacity. */
export const SPOT_INTERRUPTED_CAUSE = '*"StopCode":"SpotInterruption"*';
/**
 * ECS stopped the task before its container ran (an image pull throttled, an ENI not ready): the
 * worker never saw the object, so the task is launched again.
 */
export const FAILED_TO_START_CAUSE = '*"StopCode":"TaskFailedToStart"*';
/** How many times a task that failed to start is launched again, in all, per object. */
export const MAX_RELAUNCHES = 2;
/**
 * What the release may take, in the execution's timeout: its calls (leave the line, release, find
 * one of the oldest waiters, grant, wake, delete) take seconds, and about 6 minutes each at worst (11
 * attempts of 30 s and 19 s of delays: RELEASE_RETRY in launch-gate.ts). A release still running at the timeout (a hand-on that
 * looked again and again, every call at its worst) ends TIMED_OUT, and the cleanup releases it.
 */
export const RELEASE_ALLOWANCE = Duration.hours(1);

export interface ProcessObjectStepProps {
  /** The cluster the worker task runs in (with the Fargate capacity providers, for Spot). */
  readonly cluster: ecs.ICluster;
  /** The worker's task definition. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The container that receives BUCKET, KEY, ETAG and VERSION_ID as overrides. */
  readonly container: ecs.ContainerDefinition;
  /** Where the task's network interface goes. */
  readonly subnets: ec2.SubnetSelection;
  /** The task's security group. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Whether the task gets a public IP (to reach ECR and CloudWatch Logs without NAT). */
  readonly assignPublicIp: boolean;
  /** One task run's limit; past it Step Functions stops the task and raises States.Timeout. */
  readonly taskTimeout: Duration;
  /**
   * Where the worker writes its result (`outputPrefix + key + ".json"`), named in the execution's
   * output so whatever comes next (e.g. a rule on the execution's status change) needs no lookup.
   */
  readonly outputBucket: s3.IBucket;
  /** The prefix of results in `outputBucket`. */
  readonly outputPrefix: string;
  /** `on-demand`, `spot`, or `spot-with-fallback` (Spot first, then on-demand). */
  readonly capacity: CapacityMode;
  /**
   * How long, on average, one launch waits for Fargate capacity (throttling, the vCPU quota, no
   * capacity) before the object fails: the retries of each RunTask state last this long.
   */
  readonly capacityWait: Duration;
  /** The gate every execution claims a slot from (or waits in) before it launches. */
  readonly launchGate: LaunchGate;
  /** Where each object's record is: the step takes the object there first (exactly once per version). */
  readonly records: ObjectRecords;
}

/**
 * The per-object step, shared by the event-driven workflow and the backfill map so
 * both run the same task with the same overrides, retries and catch. Each object first claims a
 * launch slot (lib/launch-gate.ts), waiting in line when all are taken, and gives it back after its
 * task, whatever the outcome.
 *
 * Each object is first taken in its record (lib/object-records.ts): an object another execution
 * holds (a duplicate event) ends at once, in ObjectAlreadyHeld, with no slot and no task.
 *
 * Input: `{ bucket, key, etag, versionId }` (strings; a versionId that is empty, null or left out
 * means "latest": RecordObject makes it '' for the states after it).
 * On success its output is the input plus `result: { bucket, key }`, the location of the result the
 * worker writes, `receivedAtMs` (the execution's start), `task` (the task's ARN, stop code, exit
 * codes and ECS times) and `launchSlot` (the line as the release found it: the waiter it woke, if any).
 * On failure it ends in a Fail state whose error is the original error name and whose
 * cause names the object.
 */
export class ProcessObjectStep extends Construct {
  /** The first state of the step. */
  public readonly startState: sfn.State;
  /** Every state that runs the worker (one, or two with a Spot fallback). */
  public readonly runTaskStates: tasks.EcsRunTask[] = [];
  /**
   * The longest one object can take: every task run on its path (Spot, then on-demand and its
   * relaunches) at its full timeout, each after the longest its launch retries can wait. The
   * execution's timeout, so it never cuts a wait or a run short.
   */
  public readonly longestRun: Duration;

  constructor(scope: Construct, id: string, props: ProcessObjectStepProps) {
    super(scope, id);
    // RunTask is given the family, so ECS runs its latest ACTIVE revision. This flag (on in
    // cdk.json) pins the role to the one revision deployed, and a deploy registers the next
    // revision before it updates the policy: executions in between fail with
    // ECS.AccessDeniedException. Off, aws-cdk-lib grants "<family>:*", the family's revisions.
    this.node.setContext(STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY, false);
    const { capacity } = props;

    const failed = new sfn.Fail(this, 'ObjectFailed', {
      comment:
        'The worker could not process this object; the cause names it and carries the task description.',
      errorPath: '$.error.Error',
      causePath: sfn.JsonPath.format(
        'Processing s3://{}/{} failed: {}',
        sfn.JsonPath.stringAt('$.bucket'),
        sfn.JsonPath.stringAt('$.key'),
        sfn.JsonPath.stringAt('$.error.Cause'),
      ),
    });

    const records = recordStates(this, props.records, props);
    const { capacityWait } = props;
    // The longest path: the wait in line, then each run waits for capacity at worst (every jittered
    // delay at its ceiling) and runs to its timeout, then the release hands the slot on.
    let longestSeconds = capacityWait.toSeconds() + RELEASE_ALLOWANCE.toSeconds();
    // Every run of the path (Spot's, then on-demand's and its relaunches) may spend its retries: the
    // capacity retries are capped so that all of them together stay within the history limit.
    const runsAtMost = (capacity === 'spot-with-fallback' ? 1 : 0) + 1 + MAX_RELAUNCHES;
    const invalidParameter = launchRetry(INVALID_PARAMETER_ERRORS, INVALID_PARAMETER_WAIT);
    const capacityAttemptsAtMost = launchAttemptCap(runsAtMost) - (invalidParameter.maxAttempts ?? 0);
    const runOn = (stateId: string, provider: 'FARGATE' | 'FARGATE_SPOT' | undefined, wait: Duration) => {
      const state = this.runWorker(stateId, props, provider);
      const retries = [launchRetry(CAPACITY_ERRORS, wait, capacityAttemptsAtMost), invalidParameter];
      for (const retry of retries) state.addRetry(retry);
      this.runTaskStates.push(state);
      const runs = stateId === 'RunWorkerOnSpot' ? 1 : 1 + MAX_RELAUNCHES;
      const waitSeconds = retries.reduce((sum, r) => sum + worstWaitSeconds(r.maxAttempts ?? 0), 0);
      longestSeconds += runs * (waitSeconds + props.taskTimeout.toSeconds());
      return state;
    };
    const onSpot =
      capacity === 'spot-with-fallback'
        ? runOn('RunWorkerOnSpot', 'FARGATE_SPOT', SPOT_CAPACITY_WAIT)
        : undefined;
    const run =
      capacity === 'spot-with-fallback'
        ? runOn('RunWorkerOnDemand', 'FARGATE', capacityWait)
        : runOn('RunWorker', capacity === 'spot' ? 'FARGATE_SPOT' : undefined, capacityWait);

    // Every path that held a slot gives it back before its outcome: a task's result means success.
    const succeeded = sfn.Condition.isPresent('$.task');
    const processed = new sfn.Succeed(this, 'ObjectProcessed');
    const done = new sfn.Choice(this, 'WasObjectProcessed').when(succeeded, processed).otherwise(failed);
    records.running.next(onSpot ?? run);
    records.running.addCatch(onSpot ?? run, { errors: ['States.ALL'], outputs: '{% $states.input %}' });
    const gate = gateStates(this, props.launchGate, {
      onSlot: records.running,
      done,
      outcome: { when: succeeded, then: processed },
      capacityWait,
      beforeWaiting: records.waiting,
    });
    for (const state of this.runTaskStates) state.next(gate.release);
    records.put.next(gate.claim);
    records.put.addCatch(gate.claim, { errors: [KEY_TOO_LONG], outputs: records.outputWithoutRecord });
    records.put.addCatch(failed, { errors: ['States.ALL'], outputs: records.outputOnError });

    /** A task ECS stopped before it ran is launched again (at most MAX_RELAUNCHES in all); other task failures fail. */
    const relaunchOrFail = (prefix: string) => {
      const failedToStart = sfn.Condition.stringMatches('$.error.Cause', FAILED_TO_START_CAUSE);
      return new sfn.Choice(this, `${prefix}WasTaskStarted`, {
        comment: `A task ECS stopped before its container ran (StopCode TaskFailedToStart) is launched again, at most ${MAX_RELAUNCHES} times.`,
      })
        .when(
          sfn.Condition.and(failedToStart, sfn.Condition.not(sfn.Condition.isPresent('$.relaunches'))),
          new sfn.Pass(this, `${prefix}CountFirstRelaunch`, {
            result: sfn.Result.fromObject({ count: 1 }),
            resultPath: '$.relaunches',
          }).next(run),
        )
        .when(
          sfn.Condition.and(
            failedToStart,
            sfn.Condition.numberLessThan('$.relaunches.count', MAX_RELAUNCHES),
          ),
          new sfn.Pass(this, `${prefix}CountRelaunch`, {
            parameters: { 'count.$': 'States.MathAdd($.relaunches.count, 1)' },
            resultPath: '$.relaunches',
          }).next(run),
        )
        .otherwise(gate.release);
    };
    run.addCatch(relaunchOrFail(onSpot ? 'OnDemand' : ''), {
      errors: ['States.TaskFailed'],
      resultPath: '$.error',
    });
    run.addCatch(gate.release, { errors: ['States.ALL'], resultPath: '$.error' });

    if (onSpot) {
      const interrupted = new sfn.Choice(this, 'WasSpotInterrupted', {
        comment:
          'A Spot task that ECS stopped to reclaim capacity, or before it ran, gets another run on on-demand Fargate.',
      })
        .when(
          sfn.Condition.or(
            sfn.Condition.stringMatches('$.error.Cause', SPOT_INTERRUPTED_CAUSE),
            sfn.Condition.stringMatches('$.error.Cause', FAILED_TO_START_CAUSE),
          ),
          run,
        )
        .otherwise(gate.release);
      // Every launch error class, once Spot's retries are spent: Spot may be out of capacity under any name.
      onSpot.addCatch(run, { errors: LAUNCH_ERRORS, resultPath: '$.spotError' });
      onSpot.addCatch(interrupted, { errors: ['States.TaskFailed'], resultPath: '$.error' });
      onSpot.addCatch(gate.release, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    this.startState = records.put;
    this.longestRun = Duration.seconds(longestSeconds);
  }

  private runWorker(
    id: string,
    props: ProcessObjectStepProps,
    provider: 'FARGATE' | 'FARGATE_SPOT' | undefined,
  ): tasks.EcsRunTask {
    return new RunTaskInCluster(this, id, {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      cluster: props.cluster,
      taskDefinition: props.taskDefinition,
      launchTarget: new tasks.EcsFargateLaunchTarget({
        platformVersion: ecs.FargatePlatformVersion.LATEST,
        capacityProviderOptions: provider
          ? tasks.CapacityProviderOptions.custom([{ capacityProvider: provider, weight: 1 }])
          : undefined,
      }),
      subnets: props.subnets,
      securityGroups: [props.securityGroup],
      assignPublicIp: props.assignPublicIp,
      containerOverrides: [
        {
          containerDefinition: props.container,
          environment: [
            { name: 'BUCKET', value: sfn.JsonPath.stringAt('$.bucket') },
            { name: 'KEY', value: sfn.JsonPath.stringAt('$.key') },
            { name: 'ETAG', value: sfn.JsonPath.stringAt('$.etag') },
            { name: 'VERSION_ID', value: sfn.JsonPath.stringAt('$.versionId') },
          ],
        },
      ],
      taskTimeout: sfn.Timeout.duration(props.taskTimeout),
      // Keep the execution history small: the full task description is kilobytes.
      resultSelector: {
        TaskArn: sfn.JsonPath.stringAt('$.TaskArn'),
        StopCode: sfn.JsonPath.stringAt('$.StopCode'),
        StoppedReason: sfn.JsonPath.stringAt('$.StoppedReason'),
        ExitCodes: sfn.JsonPath.listAt('$.Containers[*].ExitCode'),
        // Epoch milliseconds: the recorder's durations (launch, run, and waiting since the start).
        CreatedAt: sfn.JsonPath.numberAt('$.CreatedAt'),
        StartedAt: sfn.JsonPath.numberAt('$.StartedAt'),
        StoppedAt: sfn.JsonPath.numberAt('$.StoppedAt'),
      },
      resultPath: '$.task',
    });
  }
}

/**
 * aws-cdk-lib's RunTask state, its ECS statements (RunTask, StopTask/DescribeTasks, whose task
 * ARNs exist only at run time) limited by `ecs:cluster` to the state's own cluster: the role
 * can neither start the worker elsewhere nor stop or read another cluster's tasks.
 */
class RunTaskInCluster extends tasks.EcsRunTask {
  constructor(scope: Construct, id: string, props: tasks.EcsRunTaskProps) {
    super(scope, id, props);
    for (const statement of this.taskPolicies ?? []) {
      if (statement.actions.every((action) => action.startsWith('ecs:'))) {
        statement.addCondition('ArnEquals', { 'ecs:cluster': props.cluster.clusterArn });
      }
    }
  }
}
