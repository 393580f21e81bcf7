import type { RuleTargetInputProperties } from '../../shared/input-transformer';
import { isPlainObject } from '../cloudformation/intrinsics';
import {
  asArray,
  type CfnTemplate,
  type LocalDeployment,
  refOf,
  TemplateError,
} from '../cloudformation/template';

/**
 * EventBridge's slice of the template: the rule for S3 "Object Created" events whose target is a state
 * machine of this template, with the target's input, retry policy and dead-letter queue.
 */

export interface TargetRetryPolicy {
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeInSeconds: number;
}

/** EventBridge's defaults: "for 24 hours and up to 185 times". */
export const DEFAULT_TARGET_RETRY_POLICY: TargetRetryPolicy = {
  maximumRetryAttempts: 185,
  maximumEventAgeInSeconds: 86400,
};

/** Where the rule sits in the template, found before anything is resolved. */
export interface ObjectCreatedRuleMatch {
  readonly ruleLogicalId: string;
  readonly rule: Record<string, unknown>;
  readonly target: Record<string, unknown>;
  readonly stateMachineLogicalId: string;
  /** Logical ID of the bucket the rule watches (its local name is the local S3 server's bucket). */
  readonly dataBucketLogicalId: string;
}

export interface ObjectCreatedRule {
  readonly ruleLogicalId: string;
  readonly ruleArn: string;
  readonly ruleName: string;
  /** The rule's `EventPattern`, resolved (the bucket name is the local one). */
  readonly eventPattern: unknown;
  /** The state machine target's input properties (`InputTransformer` etc.), resolved. */
  readonly target: RuleTargetInputProperties;
  readonly targetLogicalId: string;
  readonly targetArn: string;
  /** The key prefix of the pattern's `detail.object.key` (`""` when the rule takes every key). */
  readonly inputPrefix: string;
  /** The rule target's `RetryPolicy`, with EventBridge's defaults where the template sets none. */
  readonly retryPolicy: TargetRetryPolicy;
  /** The rule target's `DeadLetterConfig` queue; without one EventBridge drops undeliverable events. */
  readonly deadLetterQueueArn?: string;
}

/** The rule for S3 "Object Created" events whose target is a state machine of this template. */
export function findObjectCreatedRule(template: CfnTemplate): ObjectCreatedRuleMatch {
  const matches: ObjectCreatedRuleMatch[] = [];
  for (const [ruleLogicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Events::Rule' || !resource.Properties) continue;
    const rule = resource.Properties;
    const pattern = rule.EventPattern;
    if (!isPlainObject(pattern) || !asArray(pattern['detail-type']).includes('Object Created')) continue;
    for (const target of asArray(rule.Targets)) {
      const stateMachineLogicalId = refOf(isPlainObject(target) ? target.Arn : undefined);
      if (!stateMachineLogicalId) continue;
      if (template.Resources[stateMachineLogicalId]?.Type !== 'AWS::StepFunctions::StateMachine') continue;
      matches.push({
        ruleLogicalId,
        rule,
        target: target as Record<string, unknown>,
        stateMachineLogicalId,
        dataBucketLogicalId: watchedBucket(template, ruleLogicalId, pattern),
      });
    }
  }
  if (matches.length !== 1) {
    throw new TemplateError(
      matches.length === 0
        ? 'The template has no AWS::Events::Rule for "Object Created" events that targets a state machine; ' +
            'the local pipeline runs that rule: check lib/trigger.ts'
        : `The template has ${matches.length} "Object Created" rule targets that start a state machine ` +
            `(${matches.map((m) => `${m.ruleLogicalId} -> ${m.stateMachineLogicalId}`).join(', ')}); ` +
            'the local pipeline runs exactly one',
    );
  }
  return matches[0];
}

/** The rule of `match`, resolved against the local deployment. */
export function loadObjectCreatedRule(
  deployment: LocalDeployment,
  match: ObjectCreatedRuleMatch,
): ObjectCreatedRule {
  const { ruleLogicalId, rule, target, stateMachineLogicalId } = match;
  const resolve = deployment.resolve;
  const eventPattern = resolve(rule.EventPattern);
  // Only the input properties: the Arn, RoleArn, DeadLetterConfig and RetryPolicy are AWS plumbing.
  const targetInput = {
    Input: target.Input,
    InputPath: target.InputPath,
    InputTransformer: target.InputTransformer,
  };
  return {
    ruleLogicalId,
    ruleArn: resolve({ 'Fn::GetAtt': [ruleLogicalId, 'Arn'] }) as string,
    ruleName: deployment.ref(ruleLogicalId),
    eventPattern,
    target: resolve(targetInput) as RuleTargetInputProperties,
    targetLogicalId: stateMachineLogicalId,
    targetArn: deployment.ref(stateMachineLogicalId),
    inputPrefix: keyPrefixOf(eventPattern),
    retryPolicy: retryPolicyOf(target.RetryPolicy),
    deadLetterQueueArn: isPlainObject(target.DeadLetterConfig)
      ? (resolve(target.DeadLetterConfig.Arn) as string)
      : undefined,
  };
}

function retryPolicyOf(policy: unknown): TargetRetryPolicy {
  const given = isPlainObject(policy) ? policy : {};
  return {
    maximumRetryAttempts:
      typeof given.MaximumRetryAttempts === 'number'
        ? given.MaximumRetryAttempts
        : DEFAULT_TARGET_RETRY_POLICY.maximumRetryAttempts,
    maximumEventAgeInSeconds:
      typeof given.MaximumEventAgeInSeconds === 'number'
        ? given.MaximumEventAgeInSeconds
        : DEFAULT_TARGET_RETRY_POLICY.maximumEventAgeInSeconds,
  };
}

/** The bucket named in the pattern's `detail.bucket.name` by `Ref`. */
function watchedBucket(
  template: CfnTemplate,
  ruleLogicalId: string,
  pattern: Record<string, unknown>,
): string {
  const detail = isPlainObject(pattern.detail) ? pattern.detail : {};
  const bucket = isPlainObject(detail.bucket) ? detail.bucket : {};
  const refs = asArray(bucket.name)
    .map(refOf)
    .filter((id): id is string => id !== undefined && template.Resources[id]?.Type === 'AWS::S3::Bucket');
  if (refs.length !== 1) {
    throw new TemplateError(
      `Rule ${ruleLogicalId} must name exactly one bucket of this template in detail.bucket.name (found ` +
        `${refs.length}); the local pipeline maps that bucket to its embedded S3 server`,
    );
  }
  return refs[0];
}

/** `incoming/` for `detail.object.key: [{ prefix: 'incoming/' }]`, else `""`. */
function keyPrefixOf(pattern: unknown): string {
  const detail = isPlainObject(pattern) && isPlainObject(pattern.detail) ? pattern.detail : {};
  const object = isPlainObject(detail.object) ? detail.object : {};
  const prefix = asArray(object.key).find(
    (entry) => isPlainObject(entry) && typeof entry.prefix === 'string',
  );
  return isPlainObject(prefix) ? String(prefix.prefix) : '';
}
