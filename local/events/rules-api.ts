import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { isPlainObject } from '../cloudformation/intrinsics';
import { asArray, type LocalDeployment } from '../cloudformation/template';

/**
 * The read side of the EventBridge API for the template's rules: DescribeRule and ListTargetsByRule,
 * each rule and target as deployed locally (intrinsics resolved), so a command that reads a rule's
 * target (`npm run replay-dead-letters`: its input transformer) reads the local one. Rules change
 * only with the template: PutRule, PutTargets and the rest are not served.
 */

export class EventBridgeRulesApi implements LocalAwsService {
  readonly signingName = 'events';

  constructor(private readonly deployment: LocalDeployment) {}

  async call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (action) {
      case 'DescribeRule': {
        const { name, properties } = this.rule(request.Name);
        return {
          Name: name,
          Arn: this.arnOf(name),
          EventBusName: properties.EventBusName ?? 'default',
          State: properties.State ?? 'ENABLED',
          ...(properties.EventPattern !== undefined && {
            EventPattern: JSON.stringify(properties.EventPattern),
          }),
          ...(typeof properties.Description === 'string' && { Description: properties.Description }),
        };
      }
      case 'ListTargetsByRule': {
        const { properties } = this.rule(request.Rule);
        return {
          Targets: asArray(properties.Targets).map((target) => {
            const { Id, Arn, RoleArn, Input, InputPath, InputTransformer, RetryPolicy, DeadLetterConfig } =
              target as Record<string, unknown>;
            return Object.fromEntries(
              Object.entries({
                Id,
                Arn,
                RoleArn,
                Input,
                InputPath,
                InputTransformer,
                RetryPolicy,
                DeadLetterConfig,
              })
                .filter(([, value]) => value !== undefined)
                // The template may write a transformer's map as an object; the API's is a string map.
                .map(([key, value]) => [key, key === 'InputTransformer' ? transformer(value) : value]),
            );
          }),
        };
      }
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `The local EventBridge does not serve ${action}; it serves DescribeRule and ListTargetsByRule of the template's rules`,
        );
    }
  }

  private rule(name: unknown): { name: string; properties: Record<string, unknown> } {
    for (const [logicalId, resource] of this.deployment.resourcesOfType('AWS::Events::Rule')) {
      if (this.deployment.ref(logicalId) !== name) continue;
      const properties = this.deployment.resolve(resource.Properties ?? {});
      return { name: name as string, properties: isPlainObject(properties) ? properties : {} };
    }
    throw new AwsServiceError(
      'ResourceNotFoundException',
      `Rule ${String(name)} does not exist on EventBus default.`,
    );
  }

  private arnOf(name: string): string {
    const { partition, region, accountId } = this.deployment;
    return `arn:${partition}:events:${region}:${accountId}:rule/${name}`;
  }
}

function transformer(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  return {
    ...value,
    InputTemplate:
      typeof value.InputTemplate === 'string' ? value.InputTemplate : JSON.stringify(value.InputTemplate),
  };
}
