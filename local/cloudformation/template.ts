import { readFileSync } from 'node:fs';

import type { RuleTargetInputProperties } from './input-transformer';
import {
  contextForTemplate,
  type IntrinsicContext,
  isPlainObject as isRecord,
  partitionOf,
  resolveIntrinsics,
} from './intrinsics';

export { isRecord };

/**
 * Reads the pieces of the synthesized CloudFormation template that the local pipeline runs: the
 * "Object Created" rule (pattern and target input), the state machine it targets, and the ECS task
 * definitions its `ecs:runTask.sync` states start. Everything is resolved to local values here, so
 * the rest of local/ never sees an intrinsic function.
 */

/** Account and region of every local ARN and event; s3rver itself reports us-east-1. */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly [section: string]: unknown;
}

/** One container of a task definition, reduced to what the local runner uses. */
export interface LocalContainerDefinition {
  readonly name: string;
  readonly essential: boolean;
  /** The container's `Environment`, resolved; order kept as in the template. */
  readonly environment: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** Seconds between SIGTERM and SIGKILL when the task is stopped (ECS default 30). */
  readonly stopTimeoutSeconds: number;
}

export interface LocalTaskDefinition {
  readonly logicalId: string;
  readonly family: string;
  readonly arn: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly containers: readonly LocalContainerDefinition[];
}

/** An Amazon States Language definition (JSON). */
export type StateMachineDefinition = Record<string, unknown> & { readonly States: Record<string, AslState> };
export type AslState = Record<string, unknown> & { readonly Type: string };

export interface PipelineTemplate {
  readonly ruleLogicalId: string;
  readonly ruleArn: string;
  readonly ruleName: string;
  /** The rule's `EventPattern`, resolved (the bucket name is the local one). */
  readonly eventPattern: unknown;
  /** The state machine target's input properties (`InputTransformer` etc.), resolved. */
  readonly target: RuleTargetInputProperties;
  readonly stateMachineLogicalId: string;
  readonly stateMachineArn: string;
  readonly definition: StateMachineDefinition;
  /** Logical ID of the bucket the rule watches; its local name is `bucketName`. */
  readonly dataBucketLogicalId: string;
  readonly bucketName: string;
  /** The key prefix of the pattern's `detail.object.key` (`""` when the rule takes every key). */
  readonly inputPrefix: string;
  readonly taskDefinitions: readonly LocalTaskDefinition[];
  readonly region: string;
  readonly accountId: string;
  /** The rule target's `RetryPolicy`, with EventBridge's defaults where the template sets none. */
  readonly retryPolicy: TargetRetryPolicy;
  /** The rule target's `DeadLetterConfig` queue; without one EventBridge drops undeliverable events. */
  readonly deadLetterQueueArn?: string;
  /** The state machine with a Distributed Map over the bucket listing, if the template has one. */
  readonly backfill?: BackfillStateMachine;
}

export interface TargetRetryPolicy {
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeInSeconds: number;
}

/** EventBridge's defaults: "for 24 hours and up to 185 times". */
export const DEFAULT_TARGET_RETRY_POLICY: TargetRetryPolicy = {
  maximumRetryAttempts: 185,
  maximumEventAgeInSeconds: 86400,
};

export interface BackfillStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly definition: StateMachineDefinition;
  /** The Map state whose `ItemReader` is `s3:listObjectsV2`, resolved. */
  readonly mapStateName: string;
  readonly map: AslState;
}

export interface LoadPipelineOptions {
  /** Local name of the bucket the rule watches. */
  readonly bucketName: string;
  /** @default LOCAL_REGION of s3-server.ts ('us-east-1') */
  readonly region: string;
  /** @default LOCAL_ACCOUNT_ID */
  readonly accountId?: string;
}

/** Thrown when the template lacks what the local pipeline needs; the message names what and the fix. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export function readTemplateFile(path: string): CfnTemplate {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TemplateError(
      `Cannot read the synthesized template ${path}: ${(error as Error).message}; run \`npx cdk synth\` first`,
    );
  }
  if (!isRecord(parsed) || !isRecord(parsed.Resources)) {
    throw new TemplateError(`${path} is not a CloudFormation template (no "Resources" object)`);
  }
  return parsed as CfnTemplate;
}

/** Finds the rule, the state machine it targets and the task definitions, and resolves them locally. */
export function loadPipelineTemplate(template: CfnTemplate, options: LoadPipelineOptions): PipelineTemplate {
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const { ruleLogicalId, rule, target, stateMachineLogicalId, dataBucketLogicalId } =
    findObjectCreatedRule(template);
  const context = intrinsicContext(template, { ...options, accountId, dataBucketLogicalId });
  const resolve = (value: unknown) => resolveIntrinsics(value, context);

  const definition = stateMachineDefinition(template, stateMachineLogicalId, resolve);

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
    ruleName: context.refs[ruleLogicalId] as string,
    eventPattern,
    target: resolve(targetInput) as RuleTargetInputProperties,
    stateMachineLogicalId,
    stateMachineArn: context.refs[stateMachineLogicalId] as string,
    definition,
    dataBucketLogicalId,
    bucketName: options.bucketName,
    inputPrefix: keyPrefixOf(eventPattern),
    taskDefinitions: taskDefinitionsOf(template, resolve, context),
    region: options.region,
    accountId,
    retryPolicy: retryPolicyOf(target.RetryPolicy),
    deadLetterQueueArn: isRecord(target.DeadLetterConfig)
      ? (resolve(target.DeadLetterConfig.Arn) as string)
      : undefined,
    backfill: findBackfillStateMachine(template, resolve, context),
  };
}

function stateMachineDefinition(
  template: CfnTemplate,
  logicalId: string,
  resolve: (value: unknown) => unknown,
): StateMachineDefinition {
  const properties = template.Resources[logicalId].Properties;
  const definitionString = resolve(properties?.DefinitionString ?? properties?.Definition);
  const definition: unknown =
    typeof definitionString === 'string' ? JSON.parse(definitionString) : definitionString;
  if (!isRecord(definition) || !isRecord(definition.States)) {
    throw new TemplateError(`State machine ${logicalId} has no DefinitionString with States`);
  }
  return definition as StateMachineDefinition;
}

function retryPolicyOf(policy: unknown): TargetRetryPolicy {
  const given = isRecord(policy) ? policy : {};
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

/** The state machine (at most one) with a Map state whose ItemReader lists the bucket (`s3:listObjectsV2`). */
function findBackfillStateMachine(
  template: CfnTemplate,
  resolve: (value: unknown) => unknown,
  context: IntrinsicContext,
): BackfillStateMachine | undefined {
  const found: BackfillStateMachine[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = stateMachineDefinition(template, logicalId, resolve);
    forEachState(definition, (state, name) => {
      const reader = state.ItemReader;
      if (
        state.Type === 'Map' &&
        isRecord(reader) &&
        typeof reader.Resource === 'string' &&
        /:states:::s3:listObjectsV2$/.test(reader.Resource)
      ) {
        found.push({
          logicalId,
          arn: context.refs[logicalId] as string,
          definition,
          mapStateName: name,
          map: state,
        });
      }
    });
  }
  if (found.length > 1) {
    throw new TemplateError(
      `The template has ${found.length} Map states that list the bucket (s3:listObjectsV2 ItemReader: ` +
        `${found.map((f) => `${f.logicalId}.${f.mapStateName}`).join(', ')}); the local backfill runs exactly one`,
    );
  }
  return found[0];
}

/** Every state, at any depth (Map and Parallel included), whose Resource is `ecs:runTask.sync`. */
export function ecsRunTaskSyncStates(definition: StateMachineDefinition): Array<[string, AslState]> {
  const found: Array<[string, AslState]> = [];
  forEachState(definition, (state, name) => {
    if (
      state.Type === 'Task' &&
      typeof state.Resource === 'string' &&
      /:ecs:runTask\.sync$/.test(state.Resource)
    ) {
      found.push([name, state]);
    }
  });
  return found;
}

/** Calls `visit` for every state of `machine` and of the machines nested in its Map and Parallel states. */
export function forEachState(machine: unknown, visit: (state: AslState, name: string) => void): void {
  if (!isRecord(machine) || !isRecord(machine.States)) return;
  for (const [name, state] of Object.entries(machine.States)) {
    if (!isRecord(state)) continue;
    visit(state as AslState, name);
    forEachState(state.ItemProcessor, visit);
    forEachState(state.Iterator, visit);
    if (Array.isArray(state.Branches)) state.Branches.forEach((branch) => forEachState(branch, visit));
  }
}

interface RuleMatch {
  readonly ruleLogicalId: string;
  readonly rule: Record<string, unknown>;
  readonly target: Record<string, unknown>;
  readonly stateMachineLogicalId: string;
  readonly dataBucketLogicalId: string;
}

/** The rule for S3 "Object Created" events whose target is a state machine of this template. */
function findObjectCreatedRule(template: CfnTemplate): RuleMatch {
  const matches: RuleMatch[] = [];
  for (const [ruleLogicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Events::Rule' || !resource.Properties) continue;
    const rule = resource.Properties;
    const pattern = rule.EventPattern;
    if (!isRecord(pattern) || !includes(pattern['detail-type'], 'Object Created')) continue;
    for (const target of asArray(rule.Targets)) {
      const stateMachineLogicalId = refOf(isRecord(target) ? target.Arn : undefined);
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
            'the local pipeline runs that rule: check lib/trigger-rule.ts'
        : `The template has ${matches.length} "Object Created" rule targets that start a state machine ` +
            `(${matches.map((m) => `${m.ruleLogicalId} -> ${m.stateMachineLogicalId}`).join(', ')}); ` +
            'the local pipeline runs exactly one',
    );
  }
  return matches[0];
}

/** The bucket named in the pattern's `detail.bucket.name` by `Ref`. */
function watchedBucket(
  template: CfnTemplate,
  ruleLogicalId: string,
  pattern: Record<string, unknown>,
): string {
  const detail = isRecord(pattern.detail) ? pattern.detail : {};
  const bucket = isRecord(detail.bucket) ? detail.bucket : {};
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

function intrinsicContext(
  template: CfnTemplate,
  options: LoadPipelineOptions & { accountId: string; dataBucketLogicalId: string },
): IntrinsicContext {
  const { region, accountId } = options;
  const partition = partitionOf(region);
  const arn = (service: string, resource: string) =>
    `arn:${partition}:${service}:${region}:${accountId}:${resource}`;
  // Local stand-ins for physical IDs: deterministic and recognisable, never mistaken for real ones.
  const refs: Record<string, unknown> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    refs[id] = localPhysicalId(id, resource, options, arn);
  }
  return contextForTemplate(template, {
    region,
    accountId,
    refs,
    getAtts: (id, attribute) => {
      const resource = template.Resources[id];
      if (!resource) return undefined;
      if (attribute === 'Arn') {
        if (resource.Type === 'AWS::S3::Bucket') return `arn:${partition}:s3:::${String(refs[id])}`;
        const [, service, kind] = resource.Type.split('::');
        return arn(service.toLowerCase(), `${kind.toLowerCase()}/${id}`);
      }
      return `${id}-${attribute}`;
    },
    missingValueHint: 'local/template.ts gives every resource of the template a local value',
  });
}

function localPhysicalId(
  id: string,
  resource: CfnResource,
  options: { bucketName: string; dataBucketLogicalId: string },
  arn: (service: string, resource: string) => string,
): string {
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return id === options.dataBucketLogicalId ? options.bucketName : `local-${id.toLowerCase()}`;
    case 'AWS::StepFunctions::StateMachine':
      return arn('states', `stateMachine:${id}`);
    case 'AWS::ECS::TaskDefinition':
      return arn('ecs', `task-definition/${familyOf(id, resource)}:1`);
    default:
      return id;
  }
}

function familyOf(id: string, resource: CfnResource): string {
  const family = resource.Properties?.Family;
  return typeof family === 'string' ? family : id;
}

function taskDefinitionsOf(
  template: CfnTemplate,
  resolve: (value: unknown) => unknown,
  context: IntrinsicContext,
): LocalTaskDefinition[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::ECS::TaskDefinition')
    .map(([logicalId, resource]) => {
      const properties = resolve(resource.Properties ?? {}) as Record<string, unknown>;
      return {
        logicalId,
        family: familyOf(logicalId, resource),
        arn: context.refs[logicalId] as string,
        cpu: properties.Cpu === undefined ? undefined : String(properties.Cpu),
        memory: properties.Memory === undefined ? undefined : String(properties.Memory),
        containers: asArray(properties.ContainerDefinitions).filter(isRecord).map(containerOf),
      };
    });
}

function containerOf(container: Record<string, unknown>): LocalContainerDefinition {
  return {
    name: String(container.Name),
    // ECS: "If the essential parameter of a container is marked as true ... All tasks must have at least one
    // essential container"; it defaults to true.
    essential: container.Essential !== false,
    environment: asArray(container.Environment)
      .filter(isRecord)
      .map((variable) => ({ name: String(variable.Name), value: String(variable.Value ?? '') })),
    stopTimeoutSeconds: typeof container.StopTimeout === 'number' ? container.StopTimeout : 30,
  };
}

/** `incoming/` for `detail.object.key: [{ prefix: 'incoming/' }]`, else `""`. */
function keyPrefixOf(pattern: unknown): string {
  const detail = isRecord(pattern) && isRecord(pattern.detail) ? pattern.detail : {};
  const object = isRecord(detail.object) ? detail.object : {};
  const prefix = asArray(object.key).find((entry) => isRecord(entry) && typeof entry.prefix === 'string');
  return isRecord(prefix) ? String(prefix.prefix) : '';
}

function refOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
}

function includes(list: unknown, value: string): boolean {
  return asArray(list).includes(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
