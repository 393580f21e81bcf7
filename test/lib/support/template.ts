/** Reading a synthesized template: one resource, a construct's logical ID, intrinsics evaluated. */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';

import { contextForTemplate, resolveIntrinsics } from '../../../local/cloudformation/intrinsics';

/** The logical ID of a construct's CloudFormation resource (its default child for an L2). */
export function logicalIdOf(stack: Stack, construct: IConstruct): string {
  const element = (
    CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild
  ) as CfnElement;
  if (!element) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return stack.resolve(element.logicalId);
}

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
// CloudFormation intrinsics, evaluated to plain strings by the emulator's own resolver

/** Maps a `Ref` (attribute undefined) or `Fn::GetAtt` to the value that stands for it. */
export type TokenValue = (logicalId: string, attribute?: string) => string;

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
/** `AWS::StackId`, shaped as CloudFormation makes it (names derived from it take its last part). */
export const STACK_UUID = '51af3dc0-da77-11e4-872e-1234567db123';

/** `<LogicalId>` for a Ref, `<LogicalId.Attr>` for a GetAtt: readable, and safe inside JSON strings. */
export const placeholder: TokenValue = (id, attribute) => (attribute ? `<${id}.${attribute}>` : `<${id}>`);

/**
 * What a state machine's `Ref` stands for: its ARN, as on AWS, around the placeholder name.
 * An ARN, not a bare placeholder, because aws-cdk-lib takes parts out of it
 * (`Fn::Select [6, Fn::Split [":", Ref]]`, in the Distributed Map's execution ARNs).
 */
export function stateMachineArn(id: string): string {
  return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${placeholder(id)}`;
}

/** A task definition's `Ref`: the ARN of its revision 1 (aws-cdk-lib cuts the revision off for "any revision"). */
export function taskDefinitionArn(id: string): string {
  return `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${placeholder(id)}:1`;
}

/** The resource types whose `Ref` is an ARN that templates take apart. */
const ARN_REFS: Record<string, (id: string) => string> = {
  'AWS::StepFunctions::StateMachine': stateMachineArn,
  'AWS::ECS::TaskDefinition': taskDefinitionArn,
};

/**
 * Evaluates the intrinsics in a fragment of `template` with local/'s resolver (what `npm start`
 * deploys locally): pseudo parameters get fixed values, resource references go through `value`
 * (with the default placeholders, a state machine's or task definition's Ref is its ARN). An
 * intrinsic the resolver does not know throws.
 */
export function evaluate(template: Template, fragment: unknown, value: TokenValue = placeholder): unknown {
  const json = template.toJSON();
  const resources = (json.Resources ?? {}) as Record<string, { Type: string }>;
  const context = contextForTemplate(json, {
    region: REGION,
    accountId: ACCOUNT,
    stackName: 'TestPipeline',
    getAtts: (id, attribute) => value(id, attribute),
  });
  // Getters, so that `value` is asked only for what the fragment references.
  const refs: Record<string, unknown> = { ...context.refs };
  for (const [id, { Type }] of Object.entries(resources)) {
    const arn = value === placeholder ? ARN_REFS[Type] : undefined;
    Object.defineProperty(refs, id, { enumerable: true, get: () => (arn ? arn(id) : value(id)) });
  }
  const pseudo = {
    ...context.pseudo,
    'AWS::StackId': `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/TestPipeline/${STACK_UUID}`,
  };
  return resolveIntrinsics(fragment, { ...context, refs, pseudo });
}
