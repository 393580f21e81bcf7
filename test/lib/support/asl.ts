/** State machine definitions (ASL) of a synthesized template, parsed, and paths through them. */
import { Template } from 'aws-cdk-lib/assertions';

import type { Synthesized } from './synth';
import { evaluate, placeholder, Resource, TokenValue } from './template';

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
      case 'AWS::DynamoDB::Table|Ref':
        return id;
      case 'AWS::SQS::Queue|Ref':
        return `https://sqs.us-east-1.amazonaws.com/123456789012/${id}`;
      case 'AWS::SQS::Queue|Arn':
        return `arn:aws:sqs:us-east-1:123456789012:${id}`;
      default:
        throw new Error(`plausibleValues: no value for ${type} ${id} ${attribute ?? 'Ref'}`);
    }
  };
}

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
  Choices?: { Variable?: string; StringMatches?: string; NumericLessThanEquals?: number; Next: string }[];
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
  const text = evaluate(template, resource.Properties.DefinitionString, values);
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
