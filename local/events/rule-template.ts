import type { RuleTargetInputProperties } from '../../shared/input-transformer';
import { isPlainObject } from '../cloudformation/intrinsics';
import {
  asArray,
  type CfnTemplate,
  type LocalDeployment,
  refOf,
  TemplateError,
} from '../cloudformation/template';
import { InvalidEventPatternError, validateEventPattern } from './event-pattern';

/**
 * EventBridge's slice of the template: every rule on the default event bus, with its pattern and its
 * targets (a Step Functions state machine or an SQS queue, each with its input, retry policy and
 * dead-letter queue); and among them the rule for S3 "Object Created" events, whose bucket and key
 * prefix the rest of the local pipeline needs.
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

/** A rule target, resolved against the local deployment. */
export interface EventRuleTarget {
  /** The target's `Id` within its rule. */
  readonly id: string;
  /** What the target's ARN names: a state machine (StartExecution) or a queue (SendMessage). */
  readonly service: 'states' | 'sqs';
  readonly arn: string;
  /** `Input`, `InputPath` or `InputTransformer` (none: the event itself). */
  readonly input: RuleTargetInputProperties;
  /** The target's `RetryPolicy`, with EventBridge's defaults where the template sets none. */
  readonly retryPolicy: TargetRetryPolicy;
  /** The target's `DeadLetterConfig` queue; without one EventBridge drops undeliverable events. */
  readonly deadLetterQueueArn?: string;
}

/** An `AWS::Events::Rule` on the default bus, resolved against the local deployment. */
export interface EventRule {
  readonly logicalId: string;
  readonly arn: string;
  readonly name: string;
  /** The template's `State` (`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` counts as ENABLED). */
  readonly state: 'ENABLED' | 'DISABLED';
  /** The `EventPattern`, resolved and valid. */
  readonly eventPattern: unknown;
  readonly targets: readonly EventRuleTarget[];
}

/** Every rule of the template; throws a TemplateError naming a rule the local bus cannot run. */
export function loadEventRules(deployment: LocalDeployment): EventRule[] {
  return deployment
    .resourcesOfType('AWS::Events::Rule')
    .map(([logicalId]) => loadEventRule(deployment, logicalId));
}

export function loadEventRule(deployment: LocalDeployment, logicalId: string): EventRule {
  const properties = deployment.template.Resources[logicalId]?.Properties ?? {};
  const refuse = (problem: string) => new TemplateError(`Rule ${logicalId} ${problem}`);
  const bus = deployment.resolve(properties.EventBusName);
  if (bus !== undefined && bus !== 'default' && !/:event-bus\/default$/.test(String(bus))) {
    throw refuse(
      `is on the event bus ${JSON.stringify(bus)}; the local pipeline runs the default bus only ` +
        '(where S3 and Step Functions send their events): leave EventBusName unset',
    );
  }
  if (properties.EventPattern === undefined) {
    throw refuse(
      'has no EventPattern (a ScheduleExpression rule?); the local event bus runs event-pattern rules: ' +
        'schedule with an AWS::Scheduler::Schedule, which local/scheduler/ runs',
    );
  }
  const eventPattern = deployment.resolve(properties.EventPattern);
  try {
    validateEventPattern(eventPattern);
  } catch (error) {
    if (!(error instanceof InvalidEventPatternError)) throw error;
    throw refuse(`has an EventPattern EventBridge refuses: ${error.message}`);
  }
  return {
    logicalId,
    arn: deployment.resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string,
    name: deployment.ref(logicalId),
    state: properties.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
    eventPattern,
    targets: asArray(properties.Targets).map((target) => loadTarget(deployment, logicalId, target)),
  };
}

function loadTarget(deployment: LocalDeployment, ruleLogicalId: string, target: unknown): EventRuleTarget {
  const given = isPlainObject(target) ? target : {};
  const arn = String(deployment.resolve(given.Arn));
  const service = /^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:/.test(arn)
    ? 'states'
    : /^arn:[^:]+:sqs:/.test(arn)
      ? 'sqs'
      : undefined;
  if (!service) {
    throw new TemplateError(
      `Rule ${ruleLogicalId} target ${String(given.Id)} is ${arn}; the local event bus delivers to ` +
        'Step Functions state machines and SQS queues only: target one of those, or add the delivery to local/events/',
    );
  }
  // Only the input properties: the RoleArn is AWS plumbing the local bus does not evaluate.
  const input = { Input: given.Input, InputPath: given.InputPath, InputTransformer: given.InputTransformer };
  return {
    id: String(given.Id),
    service,
    arn,
    input: deployment.resolve(input) as RuleTargetInputProperties,
    retryPolicy: targetRetryPolicyOf(given.RetryPolicy),
    deadLetterQueueArn: isPlainObject(given.DeadLetterConfig)
      ? (deployment.resolve(given.DeadLetterConfig.Arn) as string)
      : undefined,
  };
}

/** Where the rule sits in the template, found before anything is resolved. */
export interface ObjectCreatedRuleMatch {
  readonly ruleLogicalId: string;
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
  const rule = loadEventRule(deployment, match.ruleLogicalId);
  const targetArn = deployment.ref(match.stateMachineLogicalId);
  const target = rule.targets.find((candidate) => candidate.arn === targetArn)!;
  return {
    ruleLogicalId: rule.logicalId,
    ruleArn: rule.arn,
    ruleName: rule.name,
    eventPattern: rule.eventPattern,
    target: target.input,
    targetLogicalId: match.stateMachineLogicalId,
    targetArn,
    inputPrefix: keyPrefixOf(rule.eventPattern),
    retryPolicy: target.retryPolicy,
    deadLetterQueueArn: target.deadLetterQueueArn,
  };
}

/** A target's `RetryPolicy` (EventBridge's or Scheduler's: the same shape and defaults), defaults filled in. */
export function targetRetryPolicyOf(policy: unknown): TargetRetryPolicy {
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
