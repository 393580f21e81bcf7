import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { App, CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';

import { parseConfig } from '../../lib/config';
import { PipelineStack } from '../../lib/pipeline-stack';

/** A registry image (config `image`), so no test stages the container/ asset. */
export const TEST_IMAGE = 'public.ecr.aws/docker/library/node:22-alpine';
/** An image in ECR, which network=private can pull through the VPC endpoints. */
export const TEST_ECR_IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:test';

/** Feature flags exactly as cdk.json sets them, so tests see what `cdk synth` produces. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CDK_JSON_CONTEXT: Record<string, unknown> = require('../../cdk.json').context;

export interface LiveSynthesis {
  readonly app: App;
  readonly stack: PipelineStack;
  readonly template: Template;
}

/** GIVEN the app configured with cdk.json's context plus `context` overrides (the construct tree too). */
export function synthPipeline(context: Record<string, unknown> = {}): LiveSynthesis {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, image: TEST_IMAGE, ...context } });
  const config = parseConfig((key) => app.node.tryGetContext(key));
  const stack = new PipelineStack(app, 'TestPipeline', { config });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The logical ID of a construct's CloudFormation resource (its default child for an L2). */
export function logicalIdOf(stack: Stack, construct: IConstruct): string {
  const element = (
    CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild
  ) as CfnElement;
  if (!element) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return stack.resolve(element.logicalId);
}

// ---------------------------------------------------------------------------------------------
// Synthesized templates, shared by all test files
//
// Jest loads aws-cdk-lib afresh in every test file, and that, not the assertions, is what a
// test file costs here (~5 s of CPU; on a 2-core machine jest runs one worker). So every
// configuration the template tests use is synthesized once, by the first test file that
// needs one, and stored under a key hashing everything the templates depend on: lib/,
// cdk.json, this file and the installed aws-cdk-lib/constructs/cdk-nag. The other files
// read the JSON. nag-acknowledgements.test.ts synthesizes live and checks that the stored
// templates equal the live ones, so a stale entry cannot go unnoticed.

/** Every configuration the template tests use, by name. */
export const CONFIGURATIONS = {
  default: {},
  destroy: { removalPolicy: 'destroy' },
  private: { network: 'private', image: TEST_ECR_IMAGE },
  ecrImage: { image: TEST_ECR_IMAGE },
  directoryImage: { image: 'examples/python-worker' },
  spot: { capacity: 'spot' },
  spotWithFallback: { capacity: 'spot-with-fallback' },
  outputBucket: { outputBucket: 'some-bucket' },
  existingVpc: {
    vpcId: 'vpc-0123456789abcdef0',
    subnetIds: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  },
  alarmEmail: { alarmEmail: 'ops@example.com' },
  uploadsPrefix: { inputPrefix: 'uploads/' },
  // as `-c key=value` passes them: strings
  sized: { cpu: '1024', memoryMiB: '3072', architecture: 'X86_64', logRetentionDays: '7' },
  shortTimeout: { taskTimeoutMinutes: '5' },
  shortWait: { capacityWaitMinutes: '60' },
  backfillConcurrency: { backfillConcurrency: '25' },
  // the longest task timeout config.ts accepts (7 days), in the mode that can run a task twice
  longestTimeout: { capacity: 'spot-with-fallback', taskTimeoutMinutes: '10080' },
} satisfies Record<string, Record<string, unknown>>;
export type ConfigurationName = keyof typeof CONFIGURATIONS;

/** Logical IDs of the constructs the tests name. */
export interface ConstructIds {
  readonly dataBucket: string;
  readonly accessLogBucket: string;
  readonly deadLetterQueue: string;
  readonly rule: string;
  readonly cluster: string;
  readonly workerLogGroup: string;
  readonly taskSecurityGroup: string;
  readonly workflowStateMachine: string;
  readonly workflowLogGroup: string;
  readonly backfillStateMachine: string;
  readonly backfillLogGroup: string;
  readonly alarmTopic: string;
}

export interface Synthesized {
  readonly name: ConfigurationName;
  readonly template: Template;
  readonly ids: ConstructIds;
}

interface Stored {
  readonly template: Record<string, unknown>;
  readonly ids: ConstructIds;
}

export function constructIds(stack: PipelineStack): ConstructIds {
  return {
    dataBucket: logicalIdOf(stack, stack.data.bucket),
    accessLogBucket: logicalIdOf(stack, stack.data.accessLogBucket),
    deadLetterQueue: logicalIdOf(stack, stack.deadLetters.queue),
    rule: logicalIdOf(stack, stack.trigger.rule),
    cluster: logicalIdOf(stack, stack.worker.cluster),
    workerLogGroup: logicalIdOf(stack, stack.worker.logGroup),
    taskSecurityGroup: logicalIdOf(stack, stack.network.taskSecurityGroup),
    workflowStateMachine: logicalIdOf(stack, stack.workflow.stateMachine),
    workflowLogGroup: logicalIdOf(stack, stack.workflow.logGroup),
    backfillStateMachine: logicalIdOf(stack, stack.backfill.stateMachine),
    backfillLogGroup: logicalIdOf(stack, stack.backfill.logGroup),
    alarmTopic: logicalIdOf(stack, stack.monitoring.topic),
  };
}

const ROOT = path.join(__dirname, '..', '..');

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
    )
    .sort();
}

/** A hash of everything the synthesized templates depend on. */
export function synthesisKey(): string {
  const hash = crypto.createHash('sha256');
  const inputs = [
    ...filesUnder(path.join(ROOT, 'lib')),
    path.join(ROOT, 'cdk.json'),
    __filename,
    ...['aws-cdk-lib', 'constructs', 'cdk-nag'].map((pkg) =>
      path.join(ROOT, 'node_modules', pkg, 'package.json'),
    ),
  ];
  for (const file of inputs)
    hash.update(path.relative(ROOT, file)).update('\0').update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 32);
}

const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 's3-fargate-pipeline-tests');
let stored: Record<string, Stored> | undefined;

function storedTemplates(): Record<string, Stored> {
  if (stored) return stored;
  const file = path.join(CACHE_DIR, `templates-${synthesisKey()}.json`);
  if (fs.existsSync(file)) {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Stored>;
    return stored;
  }
  const all: Record<string, Stored> = {};
  for (const [name, context] of Object.entries(CONFIGURATIONS)) {
    const { stack, template } = synthPipeline(context);
    all[name] = { template: template.toJSON(), ids: constructIds(stack) };
  }
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  for (const old of fs
    .readdirSync(CACHE_DIR)
    .filter((f) => f.startsWith('templates-') && f.endsWith('.json'))) {
    fs.rmSync(path.join(CACHE_DIR, old), { force: true });
  }
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(all));
  fs.renameSync(partial, file);
  stored = all;
  return all;
}

/** GIVEN the app in the named configuration (cdk.json's context plus its overrides). */
export function synthesized(name: ConfigurationName): Synthesized {
  const { template, ids } = storedTemplates()[name];
  return { name, template: Template.fromJSON(template), ids };
}

/** The stored template of a configuration, to compare with a live synthesis. */
export function storedTemplate(name: ConfigurationName): Record<string, unknown> {
  return storedTemplates()[name].template;
}

// ---------------------------------------------------------------------------------------------
// CloudFormation intrinsics, evaluated to plain strings

/** Maps a `Ref` (attribute undefined) or `Fn::GetAtt` to the string that stands for it. */
export type TokenValue = (logicalId: string, attribute?: string) => string;

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'TestPipeline',
};

/** `<LogicalId>` for a Ref, `<LogicalId.Attr>` for a GetAtt: readable, and safe inside JSON strings. */
export const placeholder: TokenValue = (id, attribute) => (attribute ? `<${id}.${attribute}>` : `<${id}>`);

/**
 * Evaluates the intrinsics that aws-cdk-lib emits in the fragments these tests read
 * (Ref, Fn::GetAtt, Fn::Join, and Fn::Select of an Fn::Split, as in the Distributed Map's
 * execution ARNs); pseudo parameters get fixed values, everything else goes through `value`.
 * Any other intrinsic throws, so a new one cannot slip through as data.
 */
export function evaluate(fragment: unknown, value: TokenValue = placeholder): unknown {
  if (Array.isArray(fragment)) return fragment.map((item) => evaluate(item, value));
  if (fragment === null || typeof fragment !== 'object') return fragment;
  const entries = Object.entries(fragment);
  if (entries.length === 1) {
    const [key, arg] = entries[0] as [string, unknown];
    if (key === 'Ref') {
      const id = arg as string;
      return PSEUDO_PARAMETERS[id] ?? value(id);
    }
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      return value(id, attribute);
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return parts.map((part) => asString(evaluate(part, value))).join(separator);
    }
    if (key === 'Fn::Select') {
      const [index, list] = arg as [number, unknown];
      const split = (list as { 'Fn::Split'?: [string, unknown] })['Fn::Split'];
      if (!split) throw new Error(`evaluate: Fn::Select of something other than Fn::Split`);
      const [delimiter, source] = split;
      const text = asString(evaluate(source, value));
      // A placeholder is opaque: name the part instead of splitting it
      return text.includes(delimiter)
        ? text.split(delimiter)[index]
        : `Select(${index}, Split(${JSON.stringify(delimiter)}, ${text}))`;
    }
    if (key.startsWith('Fn::')) throw new Error(`evaluate: unsupported intrinsic ${key}`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, evaluate(v, value)]));
}

function asString(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`Fn::Join part is not a string: ${JSON.stringify(value)}`);
  return value;
}

/**
 * Plausible deployed values for the resources a state machine definition references,
 * so a validator that checks ARNs and ids sees realistic input.
 */
export function plausibleValues(template: Template): TokenValue {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  return (id, attribute) => {
    const type = resources[id]?.Type;
    const suffix = id
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 17);
    switch (`${type}|${attribute ?? 'Ref'}`) {
      case 'AWS::ECS::Cluster|Arn':
        return `arn:aws:ecs:us-east-1:123456789012:cluster/${id}`;
      case 'AWS::ECS::TaskDefinition|Ref':
        return `arn:aws:ecs:us-east-1:123456789012:task-definition/${id}:1`;
      case 'AWS::EC2::Subnet|Ref':
        return `subnet-${suffix}`;
      case 'AWS::EC2::SecurityGroup|GroupId':
        return `sg-${suffix}`;
      case 'AWS::S3::Bucket|Ref':
        return suffix;
      case 'AWS::S3::Bucket|Arn':
        return `arn:aws:s3:::${suffix}`;
      default:
        throw new Error(`plausibleValues: no value for ${type} ${id} ${attribute ?? 'Ref'}`);
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Resources

export type Resource = { Type: string; Properties: Record<string, unknown> } & Record<string, unknown>;

/** The one resource of `type`; fails if there are none or several. */
export function onlyResource(template: Template, type: string): { id: string; resource: Resource } {
  const found = Object.entries(template.findResources(type));
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${type}, found ${found.length}: ${found.map(([id]) => id)}`);
  }
  const [id, resource] = found[0];
  return { id, resource: resource as Resource };
}

// ---------------------------------------------------------------------------------------------
// State machine definition

export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown> & {
    Overrides?: { ContainerOverrides: { Name: string; Environment: Record<string, string>[] }[] };
  };
  Retry?: {
    ErrorEquals: string[];
    IntervalSeconds?: number;
    MaxAttempts?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: string;
  }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Choices?: { Variable?: string; StringMatches?: string; Next: string }[];
  Default?: string;
  [key: string]: unknown;
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  [key: string]: unknown;
}

/**
 * The DefinitionString of the state machine `stateMachine` (a logical ID; by default the
 * event-driven workflow's), intrinsics evaluated with `values`, parsed.
 */
export function definitionOf(
  { template, ids }: Synthesized,
  { stateMachine = ids.workflowStateMachine, values = placeholder }: DefinitionOptions = {},
): AslDefinition {
  const resource = template.toJSON().Resources[stateMachine] as Resource;
  const text = evaluate(resource.Properties.DefinitionString, values);
  if (typeof text !== 'string') throw new Error('DefinitionString did not evaluate to a string');
  return JSON.parse(text) as AslDefinition;
}

export interface DefinitionOptions {
  /** Logical ID of the state machine. */
  readonly stateMachine?: string;
  readonly values?: TokenValue;
}

/** The one Map state of the backfill state machine, by name, and that state. */
export function backfillMapOf(synth: Synthesized, values: TokenValue = placeholder): [string, AslMapState] {
  const definition = definitionOf(synth, { stateMachine: synth.ids.backfillStateMachine, values });
  const maps = Object.entries(statesOfType(definition, 'Map'));
  if (maps.length !== 1) throw new Error(`expected exactly one Map state, found ${maps.length}`);
  const [name, state] = maps[0];
  return [name, state as AslMapState];
}

export interface AslMapState extends AslState {
  ItemProcessor: AslDefinition & { ProcessorConfig?: Record<string, unknown> };
}

/** The states of `definition` whose Type is `type`, by name. */
export function statesOfType(definition: AslDefinition, type: string): Record<string, AslState> {
  return Object.fromEntries(Object.entries(definition.States).filter(([, s]) => s.Type === type));
}

/**
 * The longest one object's path can take: each Task state at its TimeoutSeconds after the longest
 * its retries can wait (every retrier spent, each jittered delay at its ceiling). A state is entered
 * at most `maxEntries` times: loops in these workflows are bounded by a counter (the relaunch of a
 * task that failed to start), which a walk over the graph cannot see.
 */
export function longestTaskTimeSeconds(definition: AslDefinition, maxEntries = 1): number {
  const cost = (name: string, seen: readonly string[]): number => {
    if (seen.filter((s) => s === name).length >= maxEntries) return -Infinity;
    const state = definition.States[name];
    const own =
      state.Type === 'Task' ? Number(state.TimeoutSeconds ?? Infinity) + worstRetryWaitSeconds(state) : 0;
    return own + Math.max(0, ...successors(state).map((next) => cost(next, [...seen, name])));
  };
  return cost(definition.StartAt, []);
}

/** The longest a state's retries can wait: every retrier spent, each delay at its ceiling (full jitter's maximum). */
export function worstRetryWaitSeconds(state: AslState): number {
  let total = 0;
  for (const retrier of state.Retry ?? []) {
    for (let attempt = 0; attempt < (retrier.MaxAttempts ?? 3); attempt++) {
      total += Math.min(
        (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** attempt,
        retrier.MaxDelaySeconds ?? Infinity,
      );
    }
  }
  return total;
}

/** Every state a state can move to: Next, Catch targets, Choice branches and Default. */
export function successors(state: AslState): string[] {
  return [
    ...(state.Next ? [state.Next] : []),
    ...(state.Catch ?? []).map((c) => c.Next),
    ...(state.Choices ?? []).map((c) => c.Next),
    ...(state.Default ? [state.Default] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// IAM

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
    ((evaluate(doc, values) as { Statement: Record<string, unknown>[] }).Statement ?? []).map((s) => ({
      ...(s as unknown as Statement),
      Action: ([] as string[]).concat(s.Action as string | string[]),
      Resource: ([] as string[]).concat(s.Resource as string | string[]),
    })),
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

// ---------------------------------------------------------------------------------------------
// Acknowledgements (Validations.of(x).acknowledge), read back from construct metadata

export interface Acknowledgement {
  /** Path of the construct the acknowledgement was recorded on; it covers that subtree. */
  readonly path: string;
  /** The rule id as acknowledged, without aws-cdk-lib's `Annotation::` namespace. */
  readonly id: string;
  readonly reason: unknown;
}

/**
 * `Validations.acknowledge` records each acknowledgement as construct metadata of type
 * `Validations.ACKNOWLEDGED_RULES_METADATA_KEY` with data `{ [qualifiedId]: reason }`, the
 * id prefixed `Annotation::` (see aws-cdk-lib/core/lib/validation/validations.js); cdk-nag's
 * NagPack.isAcknowledged reads the same metadata up the construct tree.
 */
export function acknowledgementsIn(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([qualifiedId, reason]) => ({
          path: construct.node.path,
          id: qualifiedId.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}
