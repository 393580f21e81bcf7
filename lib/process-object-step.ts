import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { STEPFUNCTIONS_TASKS_FIX_RUN_ECS_TASK_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

import type { CapacityMode } from './config';

/**
 * Errors of the RunTask call itself, worth retrying: throttling surfaces as
 * `ECS.AmazonECSException`, "Capacity is unavailable" as `AmazonECS.Unknown`, and
 * transient ENI/subnet shortages as `ECS.InvalidParameterException`.
 * A worker that ran and exited non-zero fails with `States.TaskFailed`, which is not
 * here on purpose: retrying it blindly would repeat a deterministic failure.
 */
export const LAUNCH_ERRORS = ['ECS.AmazonECSException', 'ECS.InvalidParameterException', 'AmazonECS.Unknown'];
/** What Fargate Spot reports when it has no capacity, once the launch retries are spent. */
export const SPOT_CAPACITY_ERRORS = ['AmazonECS.Unknown'];
/** ECS writes this stop code into the task description (the failure's Cause) when it reclaims Spot capacity. */
export const SPOT_INTERRUPTED_CAUSE = '*"StopCode":"SpotInterruption"*';

export const LAUNCH_RETRY: sfn.RetryProps = {
  errors: LAUNCH_ERRORS,
  interval: Duration.seconds(5),
  backoffRate: 2,
  maxAttempts: 5,
  maxDelay: Duration.minutes(2),
  jitterStrategy: sfn.JitterType.FULL,
};

/** Above the launch retries' worst case (5 attempts, 2 min max delay each), with room to spare. */
const LAUNCH_RETRY_ALLOWANCE = Duration.minutes(30);

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
  /** `on-demand`, `spot`, or `spot-with-fallback` (Spot first, then on-demand). */
  readonly capacity: CapacityMode;
}

/**
 * The per-object step, shared by the event-driven workflow and the backfill map so
 * both run the same task with the same overrides, retries and catch.
 *
 * Input: `{ bucket, key, etag, versionId }` (strings; empty etag/versionId mean "latest").
 * On failure it ends in a Fail state whose error is the original error name and whose
 * cause names the object.
 */
export class ProcessObjectStep extends Construct {
  /** The first state of the step. */
  public readonly startState: sfn.State;
  /** Every state that runs the worker (one, or two with a Spot fallback). */
  public readonly runTaskStates: tasks.EcsRunTask[] = [];
  /**
   * The longest one object can take: every task run on its path (Spot, then on-demand) at its full
   * timeout, plus time spent in launch retries. A backstop for the execution's timeout.
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

    const runOn = (stateId: string, provider: 'FARGATE' | 'FARGATE_SPOT' | undefined) => {
      const state = this.runWorker(stateId, props, provider);
      state.addRetry(LAUNCH_RETRY);
      this.runTaskStates.push(state);
      return state;
    };

    if (capacity === 'spot-with-fallback') {
      const onSpot = runOn('RunWorkerOnSpot', 'FARGATE_SPOT');
      const onDemand = runOn('RunWorkerOnDemand', 'FARGATE');
      onDemand.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
      const interrupted = new sfn.Choice(this, 'WasSpotInterrupted', {
        comment: 'A Spot task that ECS stopped to reclaim capacity gets one more run on on-demand Fargate.',
      })
        .when(sfn.Condition.stringMatches('$.error.Cause', SPOT_INTERRUPTED_CAUSE), onDemand)
        .otherwise(failed);
      onSpot.addCatch(onDemand, { errors: SPOT_CAPACITY_ERRORS, resultPath: '$.spotError' });
      onSpot.addCatch(interrupted, { errors: ['States.TaskFailed'], resultPath: '$.error' });
      onSpot.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
      this.startState = onSpot;
    } else {
      const run = runOn('RunWorker', capacity === 'spot' ? 'FARGATE_SPOT' : undefined);
      run.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
      this.startState = run;
    }
    this.longestRun = Duration.seconds(
      props.taskTimeout.toSeconds() * this.runTaskStates.length + LAUNCH_RETRY_ALLOWANCE.toSeconds(),
    );
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
