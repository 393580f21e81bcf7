import { isPlainObject } from '../cloudformation/intrinsics';
import { asArray, type LocalDeployment, refOf } from '../cloudformation/template';
import { decisionKey, type PolicyFacts, policyFacts } from './decision-key';
import {
  type AccessRequest,
  ANONYMOUS,
  type ApplicablePolicies,
  decide,
  type Decision,
  type PolicyDocument,
} from './policy-evaluator';

/** Who makes a request: one of the template's roles (as a session of it), or any other principal. */
export type Caller =
  | { readonly role: string; readonly session?: string }
  | {
      /** A role or user ARN, a service principal (`events.amazonaws.com`) or ANONYMOUS. */
      readonly principal: string;
      /** @default [] */
      readonly identity?: readonly PolicyDocument[];
    };

/**
 * The IAM slice of the synthesized template, resolved to local values: each role's identity policies
 * (inline `Policies` and every `AWS::IAM::Policy` attached to it), and the resource policies of
 * buckets, topics, queues, KMS keys (their key policy) and roles (a role's trust policy is its resource policy for
 * `sts:AssumeRole`), found by the ARN they protect. A request is decided from exactly these.
 */
export class TemplateIam {
  private readonly resourcePolicies = new Map<string, Record<string, unknown>[]>();
  private readonly identityPoliciesByRole = new Map<string, PolicyDocument[]>();
  /** Each decision made, by decision-key.ts's key: the policies do not change while this lives. */
  private readonly decisions = new Map<string, Promise<Decision>>();
  private readonly factsByPolicies = new Map<string, PolicyFacts>();

  /**
   * `outside` holds the policies of resources the template uses but does not define, by ARN (an
   * existing bucket's policy, a KMS key's key policy).
   */
  constructor(
    private readonly deployment: LocalDeployment,
    outside: Readonly<Record<string, PolicyDocument>> = {},
  ) {
    const attach = (arn: string, document: unknown) => {
      const statements = this.resourcePolicies.get(arn) ?? [];
      statements.push(...statementsOf(deployment.resolve(document)));
      this.resourcePolicies.set(arn, statements);
    };
    for (const [arn, policy] of Object.entries(outside)) attach(arn, policy);
    for (const [id, role] of deployment.resourcesOfType('AWS::IAM::Role')) {
      attach(this.roleArn(id), role.Properties?.AssumeRolePolicyDocument);
    }
    for (const [id, key] of deployment.resourcesOfType('AWS::KMS::Key')) {
      attach(deployment.resolve({ 'Fn::GetAtt': [id, 'Arn'] }) as string, key.Properties?.KeyPolicy);
    }
    for (const [, policy] of deployment.resourcesOfType('AWS::S3::BucketPolicy')) {
      attach(this.arnOfTarget(policy.Properties?.Bucket), policy.Properties?.PolicyDocument);
    }
    for (const [type, targets] of [
      ['AWS::SNS::TopicPolicy', 'Topics'],
      ['AWS::SQS::QueuePolicy', 'Queues'],
    ] as const) {
      for (const [, policy] of deployment.resourcesOfType(type)) {
        for (const target of asArray(policy.Properties?.[targets])) {
          attach(this.arnOfTarget(target), policy.Properties?.PolicyDocument);
        }
      }
    }
  }

  /** The role's ARN, as `Fn::GetAtt <role>.Arn` gives it. */
  roleArn(roleLogicalId: string): string {
    this.role(roleLogicalId);
    return this.deployment.resolve({ 'Fn::GetAtt': [roleLogicalId, 'Arn'] }) as string;
  }

  /**
   * Decides a request as IAM would in the deployed stack: by `caller`'s identity policies and the
   * resource's policy. `resource` is an ARN; an S3 ARN's account is taken to be this deployment's.
   * The policy evaluator decides each request it has not decided one like before (decision-key.ts
   * says which are alike); a request like an earlier one gets that one's decision.
   */
  decide(
    caller: Caller,
    action: string,
    resource: string,
    context: Readonly<Record<string, string | readonly string[]>> = {},
  ): Promise<Decision> {
    const principal = this.principalOf(caller);
    const request: AccessRequest = {
      principal,
      action,
      resource,
      resourceAccount: resource.split(':')[4] || this.deployment.accountId,
      context,
    };
    // A role's identity policies are its logical ID's; any other caller brings its own.
    const identityKey = 'role' in caller ? `role ${caller.role}` : JSON.stringify(caller);
    const policiesKey = `${identityKey}\0${this.resourcePolicyArn(resource)}`;
    let policies: ApplicablePolicies | undefined;
    const applicable = () =>
      (policies ??= {
        identity:
          principal === ANONYMOUS
            ? []
            : 'role' in caller
              ? this.identityPolicies(caller.role)
              : (caller.identity ?? []),
        resource: this.resourcePolicyFor(resource),
      });
    let facts = this.factsByPolicies.get(policiesKey);
    if (!facts) this.factsByPolicies.set(policiesKey, (facts = policyFacts(applicable())));
    const key = decisionKey(identityKey, request, facts);
    let decision = this.decisions.get(key);
    if (!decision) {
      decision = decide(request, applicable());
      this.decisions.set(key, decision);
      // An evaluation error (a typo in an action) is thrown again for each request that makes it.
      decision.catch(() => this.decisions.delete(key));
    }
    return decision;
  }

  /** The caller's ARN (for a role, its session's `assumed-role` ARN), as a denial names it. */
  principalOf(caller: Caller): string {
    if (!('role' in caller)) return caller.principal;
    const { partition, accountId } = this.deployment;
    return `arn:${partition}:sts::${accountId}:assumed-role/${this.deployment.ref(caller.role)}/${caller.session ?? 'session'}`;
  }

  /**
   * Every identity policy of the role: its inline policies and each AWS::IAM::Policy attached to it.
   * Throws for managed policies, whose statements the template does not hold.
   */
  identityPolicies(roleLogicalId: string): PolicyDocument[] {
    const known = this.identityPoliciesByRole.get(roleLogicalId);
    if (known) return known;
    const role = this.role(roleLogicalId);
    if (asArray(role.ManagedPolicyArns).length > 0) {
      throw new Error(
        `Role ${roleLogicalId} has managed policies (${JSON.stringify(this.deployment.resolve(role.ManagedPolicyArns))}) ` +
          'whose statements are not in the template, so its permissions cannot be evaluated',
      );
    }
    const attached = this.deployment
      .resourcesOfType('AWS::IAM::Policy')
      .filter(([, policy]) => asArray(policy.Properties?.Roles).some((r) => refOf(r) === roleLogicalId))
      .map(([, policy]) => policy.Properties?.PolicyDocument);
    const inline = asArray(role.Policies).map((policy) =>
      isPlainObject(policy) ? policy.PolicyDocument : undefined,
    );
    const policies = [...inline, ...attached].map((policy) =>
      document(statementsOf(this.deployment.resolve(policy))),
    );
    this.identityPoliciesByRole.set(roleLogicalId, policies);
    return policies;
  }

  /**
   * The policy of the bucket, topic, queue or role that `arn` names (for S3, the bucket or an object
   * in it); undefined when the template gives it none.
   */
  resourcePolicyFor(arn: string): PolicyDocument | undefined {
    const statements = this.resourcePolicies.get(this.resourcePolicyArn(arn));
    return statements && document(statements);
  }

  /** The ARN whose policy applies to `arn`: for S3, the bucket's. */
  private resourcePolicyArn(arn: string): string {
    return arn.startsWith('arn:') && arn.split(':')[2] === 's3' ? arn.split('/')[0] : arn;
  }

  private role(roleLogicalId: string): Record<string, unknown> {
    const resource = this.deployment.template.Resources[roleLogicalId];
    if (resource?.Type !== 'AWS::IAM::Role') {
      throw new Error(`${roleLogicalId} is not an AWS::IAM::Role of the template`);
    }
    return resource.Properties ?? {};
  }

  /** The ARN of the resource a policy names by `Ref` (a bucket, topic or queue). */
  private arnOfTarget(target: unknown): string {
    const logicalId = refOf(target);
    if (!logicalId)
      throw new Error(`A resource policy names its target as ${JSON.stringify(target)}, not a Ref`);
    return this.deployment.resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string;
  }
}

function statementsOf(policy: unknown): Record<string, unknown>[] {
  const statement = isPlainObject(policy) ? policy.Statement : undefined;
  return (Array.isArray(statement) ? statement : [statement]).filter(isPlainObject);
}

function document(statements: Record<string, unknown>[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}
