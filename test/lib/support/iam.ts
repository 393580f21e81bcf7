/** IAM statements of a synthesized template's roles, with intrinsics as placeholders. */
import { Template } from 'aws-cdk-lib/assertions';

import { evaluate, placeholder, Resource, TokenValue } from './template';

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: unknown;
  Sid?: string;
}

/**
 * Every statement attached to the role `roleId`: its inline policies and every
 * AWS::IAM::Policy naming it, with Action/Resource as arrays and intrinsics evaluated with
 * `values` (placeholders by default).
 */
export function statementsOfRole(
  template: Template,
  roleId: string,
  values: TokenValue = placeholder,
): Statement[] {
  const role = template.toJSON().Resources[roleId] as Resource | undefined;
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not an AWS::IAM::Role`);
  const documents: unknown[] = ((role.Properties.Policies as { PolicyDocument: unknown }[]) ?? []).map(
    (p) => p.PolicyDocument,
  );
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]) {
    const roles = (policy.Properties.Roles as unknown[]) ?? [];
    if (roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }))) {
      documents.push(policy.Properties.PolicyDocument);
    }
  }
  return documents.flatMap((doc) =>
    ((evaluate(template, doc, values) as { Statement: Record<string, unknown>[] }).Statement ?? []).map(
      (s) => ({
        ...(s as unknown as Statement),
        Action: ([] as string[]).concat(s.Action as string | string[]),
        Resource: ([] as string[]).concat(s.Resource as string | string[]),
      }),
    ),
  );
}

/** Whether an IAM pattern (`*` and `?` wildcards) matches `value`; IAM action names are case-insensitive. */
export function iamPatternMatches(pattern: string, value: string, ignoreCase = false): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, ignoreCase ? 'i' : '').test(value);
}

/** The role ARN's logical ID from `{ 'Fn::GetAtt': [id, 'Arn'] }`. */
export function roleIdFromArn(arn: unknown): string {
  const getAtt = (arn as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (!getAtt || getAtt[1] !== 'Arn') throw new Error(`not a GetAtt Arn: ${JSON.stringify(arn)}`);
  return getAtt[0];
}
