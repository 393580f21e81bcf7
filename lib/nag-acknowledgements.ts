import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
// cdk-nag names an IAM5 finding after the flattened resource; using its own flattener
// keeps each acknowledgement pinned to exactly the finding it means.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Acknowledges one `AwsSolutions-IAM5` wildcard-resource finding under `scope` (a role
 * or a policy): the one for `resource` (an ARN, possibly a token), and nothing else.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: unknown, reason: string): void {
  const flat = flattenCfnReference(Stack.of(scope).resolve(resource));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

/**
 * For a policy that aws-cdk-lib writes itself (so its ARNs are not ours to name),
 * acknowledges each wildcard resource it holds, one finding at a time.
 */
export function acknowledgeWildcardResourcesOf(policy: iam.Policy, reason: string): void {
  const document = Stack.of(policy).resolve(policy.document) as { Statement?: { Resource?: unknown }[] };
  for (const statement of document.Statement ?? []) {
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const resource of resources.filter((r) => flattenCfnReference(r).includes('*'))) {
      acknowledgeWildcardResource(policy, resource, reason);
    }
  }
}

/**
 * Acknowledges a finding on a construct that aws-cdk-lib creates once per stack
 * (e.g. the bucket notifications handler), found by the start of its id.
 */
export function acknowledgeOnStackSingleton(
  scope: IConstruct,
  idPrefix: string,
  id: string,
  reason: string,
): void {
  for (const child of Stack.of(scope).node.children.filter((c) => c.node.id.startsWith(idPrefix))) {
    Validations.of(child).acknowledge({ id, reason });
  }
}

/**
 * The wildcard findings every state machine that runs `ecs:runTask.sync` has: aws-cdk-lib grants
 * ecs:StopTask/DescribeTasks on `*` because the task ARN exists only at run time (X-Ray, log
 * delivery and states:SendTaskSuccess take no resource), and RunTask on `<family>:*`, every revision of the worker's
 * family, because RunTask is given the family.
 */
export function acknowledgeRunTaskSyncWildcards(role: iam.IRole): void {
  acknowledgeWildcardResource(
    role,
    '*',
    'ecs:StopTask/DescribeTasks name tasks that exist only at run time (limited to the worker cluster by ecs:cluster); X-Ray, CloudWatch Logs delivery and states:SendTaskSuccess (the launch gate waking a waiting execution: the task token names it) take no resource; every other statement is scoped.',
  );
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof iam.Policy)) return;
  const document = Stack.of(policy).resolve(policy.document) as {
    Statement?: { Action?: unknown; Resource?: unknown }[];
  };
  for (const statement of document.Statement ?? []) {
    if (![statement.Action].flat().includes('ecs:RunTask')) continue;
    for (const resource of [statement.Resource].flat()) {
      acknowledgeWildcardResource(
        role,
        resource,
        'RunTask is given the worker family, so ECS runs its latest ACTIVE revision: the role may run any revision of that one family (in the worker cluster only), because a policy on one revision refuses the next during a deploy.',
      );
    }
  }
}
