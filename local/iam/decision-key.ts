import type { AccessRequest, ApplicablePolicies } from './policy-evaluator';

/**
 * What an IAM decision depends on, as a string: two requests under the same policies with the same
 * key get the same decision, so the first one's is remembered for the other (local/iam/template-iam.ts).
 * The template's policies do not change while the local pipeline runs.
 *
 * The key holds the action, the request context and the resource's account as they are. Two parts
 * are reduced to what the policies can tell apart, or else every task's request would be new:
 * - a role session's name (each task has its own session) is left out unless a Principal or
 *   NotPrincipal of the policies names a session (`assumed-role/...`): the simulator derives no
 *   context key from the principal, and a role's ARN in a Principal matches every session of it;
 * - an S3 object's key is replaced by whether each Resource and NotResource pattern of the policies
 *   matches its ARN. The simulator matches an object ARN's first five segments (the same for every
 *   object of a bucket) and then the bucket and key against the pattern, `*` any run and `?` any one
 *   character, case-sensitively, so objects that every pattern matches alike are decided alike. Not
 *   reduced when a pattern holds a policy variable (`${aws:username}`: it reads the request), or the
 *   key holds a `*` (the simulator reads a request ARN's `*` as a wildcard).
 */

/** What the key needs to know of a set of applicable policies; work it out once per set. */
export interface PolicyFacts {
  /** Some Principal or NotPrincipal names a role session. */
  readonly sessionNamed: boolean;
  /**
   * For each Resource and NotResource pattern, the match of an ARN's bucket-and-key part (undefined
   * for a pattern that matches every object of a bucket alike); undefined when a pattern reads a policy
   * variable.
   */
  readonly resourceParts: readonly (RegExp | undefined)[] | undefined;
}

export function policyFacts(policies: ApplicablePolicies): PolicyFacts {
  const statements = [...policies.identity, ...(policies.resource ? [policies.resource] : [])].flatMap(
    (policy) => (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]),
  );
  const values = (statement: Record<string, unknown>, element: string): string[] =>
    [statement[element] ?? []].flat().filter((value): value is string => typeof value === 'string');
  const patterns = [
    ...new Set(statements.flatMap((s) => [...values(s, 'Resource'), ...values(s, 'NotResource')])),
  ];
  return {
    sessionNamed: statements.some((s) =>
      /assumed-role/i.test(JSON.stringify([s.Principal ?? null, s.NotPrincipal ?? null])),
    ),
    resourceParts: patterns.some((p) => p.includes('${'))
      ? undefined
      : patterns.map((pattern) => {
          const parts = pattern.split(':');
          // `*`, or a short ARN (its missing segments are `*`): the same for every object.
          return parts.length < 6 ? undefined : wildcardPattern(parts.slice(5).join(':'));
        }),
  };
}

/** The key of `request` under policies whose facts are `facts`; `caller` names the identity policies. */
export function decisionKey(caller: string, request: AccessRequest, facts: PolicyFacts): string {
  return JSON.stringify([
    caller,
    facts.sessionNamed ? request.principal : withoutSessionName(request.principal),
    request.action,
    resourceClass(request.resource, facts),
    request.resourceAccount,
    Object.entries(request.context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
}

/** `arn:aws:sts::1:assumed-role/Role/session` without `/session`; any other principal as it is. */
function withoutSessionName(principal: string): string {
  const match = /^(arn:[^:]*:sts::[^:]*:assumed-role\/[^/]+)\/.+$/.exec(principal);
  return match ? match[1] : principal;
}

/**
 * An object ARN as its bucket and the matches of its bucket-and-key part; any other ARN as it is.
 * The first five segments are the same for every object of the bucket, so whether a pattern's match
 * them is too: only the part after them tells two objects apart.
 */
function resourceClass(resource: string, facts: PolicyFacts): string | readonly unknown[] {
  const object = /^(arn:[^:]*:s3:::[^/:]+)\/(.+)$/s.exec(resource);
  if (!object || object[2].includes('*') || !facts.resourceParts) return resource;
  const bucketAndKey = resource.split(':').slice(5).join(':');
  return [object[1], facts.resourceParts.map((part) => part?.test(bucketAndKey) ?? null)];
}

/**
 * IAM's wildcards (`*` any run, `?` any one character) as a regular expression. Written here because
 * the simulator does not export its matcher.
 */
function wildcardPattern(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\?/g, '.')
    .replace(/\*/g, '.*');
  return new RegExp(`^${source}$`, 's');
}
