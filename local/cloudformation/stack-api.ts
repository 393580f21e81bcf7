import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { isPlainObject } from './intrinsics';
import type { LocalDeployment } from './template';

/**
 * The CloudFormation API for the one stack deployed locally: DescribeStacks (with its Outputs
 * resolved to their local values: the queue URL, the state machine ARNs, the bucket) and
 * ListStackResources (each resource's local physical ID), so a command that reads a stack's outputs
 * (bin/stack-outputs.ts, `aws cloudformation describe-stacks`) finds the local pipeline's. Any other
 * stack does not exist, as CloudFormation says it (ValidationError); other actions are not served.
 */

/** CloudFormation's page size for ListStackResources. */
const RESOURCES_PER_PAGE = 100;

export class CloudFormationApi implements LocalAwsService {
  readonly signingName = 'cloudformation';
  private readonly stackId: string;

  constructor(
    private readonly deployment: LocalDeployment,
    private readonly stackName: string,
    /** When the local stack was "created": the pipeline's start. */
    private readonly createdAt: Date,
  ) {
    const { partition, region, accountId } = deployment;
    // A fixed id: the local stack is the same stack on every run, as a deployed one is across updates.
    this.stackId = `arn:${partition}:cloudformation:${region}:${accountId}:stack/${stackName}/00000000-0000-0000-0000-000000000000`;
  }

  async call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (action) {
      case 'DescribeStacks':
        if (request.StackName !== undefined) this.checkStack(request.StackName);
        return { Stacks: [this.describe()] };
      case 'ListStackResources': {
        this.checkStack(request.StackName);
        const resources = Object.entries(this.deployment.template.Resources).map(([logicalId, resource]) => ({
          LogicalResourceId: logicalId,
          PhysicalResourceId: this.deployment.ref(logicalId),
          ResourceType: resource.Type,
          LastUpdatedTimestamp: this.createdAt,
          ResourceStatus: 'CREATE_COMPLETE',
        }));
        const start = Number(request.NextToken ?? 0) || 0;
        const end = start + RESOURCES_PER_PAGE;
        return {
          StackResourceSummaries: resources.slice(start, end),
          ...(end < resources.length && { NextToken: String(end) }),
        };
      }
      default:
        throw new AwsServiceError(
          'UnknownOperationException',
          `The local CloudFormation does not serve ${action}; it serves DescribeStacks and ListStackResources of the stack ${this.stackName}`,
        );
    }
  }

  /** CloudFormation takes a stack's name or its id; it words its refusals exactly so (clients match them). */
  private checkStack(name: unknown): void {
    if (name === undefined) {
      throw new AwsServiceError(
        'ValidationError',
        "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null",
      );
    }
    if (name !== this.stackName && name !== this.stackId) {
      throw new AwsServiceError('ValidationError', `Stack with id ${String(name)} does not exist`);
    }
  }

  private describe(): Record<string, unknown> {
    const outputs = isPlainObject(this.deployment.template.Outputs) ? this.deployment.template.Outputs : {};
    return {
      StackId: this.stackId,
      StackName: this.stackName,
      CreationTime: this.createdAt,
      StackStatus: 'CREATE_COMPLETE',
      Outputs: Object.entries(outputs).map(([key, output]) => {
        const { Value, Description, Export } = output as Record<string, unknown>;
        const exportName = isPlainObject(Export) ? this.deployment.resolve(Export.Name) : undefined;
        return {
          OutputKey: key,
          OutputValue: String(this.deployment.resolve(Value)),
          ...(typeof Description === 'string' && { Description }),
          ...(exportName !== undefined && { ExportName: String(exportName) }),
        };
      }),
    };
  }
}
