import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import type { LocalContainerDefinition, LocalTaskDefinition } from './task-definitions';

/**
 * What ECS says about a task: the `Parameters` a `runTask.sync` state sends, and the DescribeTasks
 * description of a stopped task, which Step Functions returns on success and puts (as compact JSON)
 * in the Cause on failure.
 */

/** The `Parameters` of an `ecs:runTask.sync` state, after Step Functions filled in the paths. */
export interface RunTaskParameters {
  readonly Cluster?: string;
  readonly TaskDefinition: string;
  readonly LaunchType?: string;
  readonly CapacityProviderStrategy?: ReadonlyArray<{
    readonly CapacityProvider: string;
    readonly Weight?: number;
    readonly Base?: number;
  }>;
  readonly PlatformVersion?: string;
  readonly Overrides?: {
    readonly ContainerOverrides?: ReadonlyArray<{
      readonly Name: string;
      readonly Environment?: ReadonlyArray<{ readonly Name: string; readonly Value?: string | null }>;
    }>;
  };
}

/** The fields of an ECS `Task` (DescribeTasks) that a stopped Fargate task has. */
export type EcsTaskDescription = Record<string, unknown>;

/** Where tasks run: the ARNs' partition, region and account. */
export interface TaskLocation {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

/** `arn:<partition>:ecs:<region>:<account>:<resourceType>`, to which the caller appends `/...`. */
export function ecsArn(where: TaskLocation, resourceType: string): string {
  return `arn:${where.partition}:ecs:${where.region}:${where.accountId}:${resourceType}`;
}

export interface LaunchedTask {
  readonly taskArn: string;
  readonly taskDefinition: LocalTaskDefinition;
  readonly container: LocalContainerDefinition;
  readonly environment: Readonly<Record<string, string>>;
  readonly child: ChildProcess;
  readonly onSpot: boolean;
  readonly createdAt: number;
  stoppingAt?: number;
  summary?: Record<string, unknown>;
}

export interface StoppedTask {
  readonly exitCode: number | null;
  readonly stopCode: string;
  readonly stoppedReason: string;
  readonly timedOut: boolean;
  readonly stoppedAt: number;
}

/**
 * RunTask's response for a task just launched (`{ Tasks, Failures }`, PascalCase as Step Functions
 * records it in TaskSubmitted): the task PROVISIONING, its container PENDING.
 */
export function runTaskResponse(
  task: LaunchedTask,
  parameters: RunTaskParameters,
  where: TaskLocation,
): Record<string, unknown> {
  return {
    Failures: [],
    Tasks: [
      {
        ClusterArn: clusterArnOf(parameters, where),
        Containers: [{ LastStatus: 'PENDING', Name: task.container.name, TaskArn: task.taskArn }],
        Cpu: task.taskDefinition.cpu,
        CreatedAt: task.createdAt,
        DesiredStatus: 'RUNNING',
        Group: `family:${task.taskDefinition.family}`,
        LastStatus: 'PROVISIONING',
        LaunchType: 'FARGATE',
        Memory: task.taskDefinition.memory,
        TaskArn: task.taskArn,
        TaskDefinitionArn: task.taskDefinition.arn,
        Version: 1,
      },
    ],
  };
}

function clusterArnOf(parameters: RunTaskParameters, where: TaskLocation): string {
  return parameters.Cluster?.startsWith('arn:')
    ? parameters.Cluster
    : `${ecsArn(where, 'cluster')}/${parameters.Cluster ?? 'default'}`;
}

export function describeStoppedTask(
  task: LaunchedTask,
  stopped: StoppedTask,
  parameters: RunTaskParameters,
  where: TaskLocation,
): EcsTaskDescription {
  const clusterArn = clusterArnOf(parameters, where);
  return {
    Attachments: [],
    AvailabilityZone: `${where.region}a`,
    ...(parameters.CapacityProviderStrategy
      ? { CapacityProviderName: task.onSpot ? 'FARGATE_SPOT' : 'FARGATE' }
      : {}),
    ClusterArn: clusterArn,
    Connectivity: 'CONNECTED',
    Containers: [
      {
        ContainerArn: `${ecsArn(where, 'container')}/${randomUUID()}`,
        ExitCode: stopped.exitCode,
        LastStatus: 'STOPPED',
        Name: task.container.name,
        TaskArn: task.taskArn,
      },
    ],
    Cpu: task.taskDefinition.cpu,
    CreatedAt: task.createdAt,
    DesiredStatus: 'STOPPED',
    Group: `family:${task.taskDefinition.family}`,
    LastStatus: 'STOPPED',
    LaunchType: 'FARGATE',
    Memory: task.taskDefinition.memory,
    // What ECS applied: overrides without a value were left out (see containerEnvironment).
    Overrides: {
      ...parameters.Overrides,
      ContainerOverrides: parameters.Overrides?.ContainerOverrides?.map((override) => ({
        ...override,
        Environment: override.Environment?.filter(({ Value }) => Value !== undefined && Value !== null),
      })),
    },
    PlatformVersion:
      parameters.PlatformVersion === 'LATEST' ? '1.4.0' : (parameters.PlatformVersion ?? '1.4.0'),
    StartedAt: task.createdAt,
    StopCode: stopped.stopCode,
    StoppedAt: stopped.stoppedAt,
    StoppedReason: stopped.stoppedReason,
    StoppingAt: task.stoppingAt ?? stopped.stoppedAt,
    TaskArn: task.taskArn,
    TaskDefinitionArn: task.taskDefinition.arn,
    Version: 3,
  };
}
