import { isPlainObject } from '../cloudformation/intrinsics';
import { asArray, familyOf, type LocalDeployment } from '../cloudformation/template';

/** ECS's slice of the template: the task definitions, resolved, reduced to what the local runner uses. */

/** One container of a task definition. */
export interface LocalContainerDefinition {
  readonly name: string;
  readonly essential: boolean;
  /** The container's `Environment`, resolved; order kept as in the template. */
  readonly environment: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** Seconds between SIGTERM and SIGKILL when the task is stopped (ECS default 30). */
  readonly stopTimeoutSeconds: number;
}

export interface LocalTaskDefinition {
  readonly logicalId: string;
  readonly family: string;
  readonly arn: string;
  readonly cpu?: string;
  readonly memory?: string;
  /** `RuntimePlatform.CpuArchitecture` (`ARM64`, `X86_64`), when the template sets it. */
  readonly cpuArchitecture?: string;
  /** Logical ID of the task role (`TaskRoleArn: { Fn::GetAtt: [role, Arn] }`), when the task has one. */
  readonly taskRoleLogicalId?: string;
  readonly containers: readonly LocalContainerDefinition[];
}

export function loadTaskDefinitions(deployment: LocalDeployment): LocalTaskDefinition[] {
  return deployment.resourcesOfType('AWS::ECS::TaskDefinition').map(([logicalId, resource]) => {
    const properties = deployment.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    return {
      logicalId,
      family: familyOf(logicalId, resource),
      arn: deployment.ref(logicalId),
      cpu: properties.Cpu === undefined ? undefined : String(properties.Cpu),
      memory: properties.Memory === undefined ? undefined : String(properties.Memory),
      cpuArchitecture: (properties.RuntimePlatform as { CpuArchitecture?: string } | undefined)
        ?.CpuArchitecture,
      taskRoleLogicalId: roleOf(resource.Properties?.TaskRoleArn),
      containers: asArray(properties.ContainerDefinitions).filter(isPlainObject).map(containerOf),
    };
  });
}

function containerOf(container: Record<string, unknown>): LocalContainerDefinition {
  return {
    name: String(container.Name),
    // ECS: "If the essential parameter of a container is marked as true ... All tasks must have at least one
    // essential container"; it defaults to true.
    essential: container.Essential !== false,
    environment: asArray(container.Environment)
      .filter(isPlainObject)
      .map((variable) => ({ name: String(variable.Name), value: String(variable.Value ?? '') })),
    stopTimeoutSeconds: typeof container.StopTimeout === 'number' ? container.StopTimeout : 30,
  };
}

function roleOf(arn: unknown): string | undefined {
  const getAtt = isPlainObject(arn) ? arn['Fn::GetAtt'] : undefined;
  return Array.isArray(getAtt) && getAtt[1] === 'Arn' ? String(getAtt[0]) : undefined;
}
