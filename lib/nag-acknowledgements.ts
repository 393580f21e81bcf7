import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
// cdk-nag names an IAM5 finding after the flattened resource; using its own flattener
// keeps each acknowledgement pinned to exactly the finding it means.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { IConstruct } from 'constructs';

/**
 * Acknowledges one `AwsSolutions-IAM5` wildcard-resource finding on the policy of
 * `role`: the one for `resource` (an ARN, possibly a token), and nothing else.
 */
export function acknowledgeWildcardResource(role: iam.IRole, resource: string, reason: string): void {
  const flat = flattenCfnReference(Stack.of(role).resolve(resource));
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
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
