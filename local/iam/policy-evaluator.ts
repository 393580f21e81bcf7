import { anonymousPrincipal, runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';

/**
 * Decides one request as IAM does, from the policies that apply to it: the caller's identity
 * policies and the resource's policy (a bucket, topic or queue policy, or a role's trust policy).
 * The evaluation itself is @cloud-copilot/iam-simulate's (a maintained simulator of IAM's policy
 * evaluation logic: same- and cross-account rules, every condition operator, explicit denies);
 * this module only shapes the request. It is AGPL-3.0 and a devDependency: the policy tests and
 * the local pipeline (`npm start`, a development tool) use it, and nothing that ships does (the
 * image holds only the worker bundle, the CDK app only aws-cdk-lib).
 */

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** An IAM policy document (identity, resource or trust policy), intrinsics already resolved. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[] | Record<string, unknown>;
}

/** The caller of an unsigned request. */
export const ANONYMOUS = 'anonymous';

export interface AccessRequest {
  /** An IAM role, role session or user ARN; a service principal (`cloudwatch.amazonaws.com`); or ANONYMOUS. */
  readonly principal: string;
  /** e.g. `s3:GetObject` */
  readonly action: string;
  /** The resource's ARN. */
  readonly resource: string;
  /** The account that owns the resource (S3 ARNs hold none). */
  readonly resourceAccount: string;
  /** Request context keys, e.g. `{ 'aws:SecureTransport': 'true' }`. */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

export interface ApplicablePolicies {
  /** The principal's identity policies (none for a service principal or an anonymous caller). */
  readonly identity: readonly PolicyDocument[];
  /** The resource's policy, if it has one. */
  readonly resource?: PolicyDocument;
}

/** The simulator refused the request or a policy as invalid; the message says which and why. */
export class PolicyEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyEvaluationError';
  }
}

/**
 * The decision for `request` under `policies`. Throws PolicyEvaluationError when the simulator
 * rejects the input (an unknown action, an ARN that is not of the action's resource type, a
 * malformed policy), so a typo is never mistaken for a denial.
 */
export async function decide(request: AccessRequest, policies: ApplicablePolicies): Promise<Decision> {
  const anonymous = request.principal === ANONYMOUS;
  const simulation: Simulation = {
    request: {
      principal: anonymous ? anonymousPrincipal : request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: Object.fromEntries(
        Object.entries(request.context ?? {}).map(([key, value]) => [
          key,
          typeof value === 'string' ? value : [...value],
        ]),
      ),
    },
    identityPolicies: policies.identity.map((policy, index) => ({ name: `identity-${index}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policies.resource,
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new PolicyEvaluationError(
      `Cannot evaluate ${request.action} on ${request.resource} by ${request.principal}: ` +
        `${result.errors.message} ${JSON.stringify(result.errors)}`,
    );
  }
  return result.overallResult;
}
