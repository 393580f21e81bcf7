import { readFileSync } from 'node:fs';

import {
  contextForTemplate,
  type IntrinsicContext,
  isPlainObject,
  partitionOf,
  resolveIntrinsics,
} from './intrinsics';

/**
 * The synthesized CloudFormation template as the local "deployment": read once, each resource given a
 * local physical ID and ARN, and any fragment resolved to local values on request. Each emulated
 * service reads its own slice through this (events/rule-template.ts, stepfunctions/definitions.ts,
 * ecs/task-definitions.ts), so none of them ever sees an intrinsic function.
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
  if (!isPlainObject(parsed) || !isPlainObject(parsed.Resources)) {
    throw new TemplateError(`${path} is not a CloudFormation template (no "Resources" object)`);
  }
  return parsed as CfnTemplate;
}

/**
 * The local run has no KMS: run as if a customer managed key were not there, it would read and
 * write what AWS refuses to a principal the key does not let in. So it refuses such a template.
 */
export function refuseCustomerManagedKeys(template: CfnTemplate, path: string): void {
  const keys = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::KMS::Key');
  if (keys.length === 0) return;
  throw new TemplateError(
    `${path} encrypts with a customer managed KMS key (${keys.map(([id]) => id).join(', ')}, from -c encryption=kms), which the local run does not emulate; run it without -c encryption=kms (test/lib/iam/ evaluates the key's permissions)`,
  );
}

export interface LocalDeploymentOptions {
  readonly region: string;
  /** @default LOCAL_ACCOUNT_ID */
  readonly accountId?: string;
  /** Local names of buckets by logical ID; any other bucket is `local-<logical id>`. */
  readonly bucketNames?: Readonly<Record<string, string>>;
  /**
   * Where queue URLs point, e.g. the local endpoint `http://127.0.0.1:4566` (a queue's `Ref` is then
   * `http://127.0.0.1:4566/<account>/<logical id>`): the SDK sends an SQS request to its QueueUrl's
   * host, so a URL handed to a client must be the endpoint's, as LocalStack's are.
   * @default `https://sqs.<region>.amazonaws.com`
   */
  readonly sqsEndpoint?: string;
}

/** The template "deployed" locally: where it runs and the local value of any fragment of it. */
export interface LocalDeployment {
  readonly template: CfnTemplate;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  /** The local physical ID (`Ref`) of a resource. */
  ref(logicalId: string): string;
  /** `value` with every intrinsic function replaced by its local value. */
  resolve(value: unknown): unknown;
  /** The local value of the stack output `name`; undefined when the template has none of that name. */
  output(name: string): string | undefined;
  /** The resources of one type, as `[logicalId, resource]`, in template order. */
  resourcesOfType(type: string): Array<[string, CfnResource]>;
}

export function deployLocally(template: CfnTemplate, options: LocalDeploymentOptions): LocalDeployment {
  const { region } = options;
  const accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  const partition = partitionOf(region);
  const where: Where = {
    partition,
    region,
    accountId,
    sqsEndpoint: options.sqsEndpoint ?? `https://sqs.${region}.amazonaws.com`,
    arn: (service, resource) => `arn:${partition}:${service}:${region}:${accountId}:${resource}`,
  };
  // Local stand-ins for physical IDs: deterministic and recognisable, never mistaken for real ones.
  const refs: Record<string, string> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    refs[id] = localPhysicalId(id, resource, options.bucketNames ?? {}, where);
  }
  const context: IntrinsicContext = contextForTemplate(template, {
    region,
    accountId,
    refs,
    getAtts: (id, attribute) => {
      const resource = template.Resources[id];
      if (!resource) return undefined;
      return attribute === 'Arn' ? localArn(id, resource, refs[id], where) : `${id}-${attribute}`;
    },
    missingValueHint: 'local/cloudformation/template.ts gives every resource of the template a local value',
  });
  return {
    template,
    region,
    accountId,
    partition,
    ref: (logicalId) => refs[logicalId],
    resolve: (value) => resolveIntrinsics(value, context),
    output: (name) => {
      const outputs = (template.Outputs ?? {}) as Record<string, { Value?: unknown } | undefined>;
      const output = outputs[name];
      return output ? String(resolveIntrinsics(output.Value, context)) : undefined;
    },
    resourcesOfType: (type) =>
      Object.entries(template.Resources).filter(([, resource]) => resource.Type === type),
  };
}

/** Where the template is deployed locally, and the ARN of a resource there. */
interface Where {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly sqsEndpoint: string;
  arn(service: string, resource: string): string;
}

function localPhysicalId(
  id: string,
  resource: CfnResource,
  bucketNames: Readonly<Record<string, string>>,
  { arn, accountId, sqsEndpoint }: Where,
): string {
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return bucketNames[id] ?? `local-${id.toLowerCase()}`;
    case 'AWS::StepFunctions::StateMachine':
      return arn('states', `stateMachine:${id}`);
    case 'AWS::ECS::TaskDefinition':
      return arn('ecs', `task-definition/${familyOf(id, resource)}:1`);
    case 'AWS::SNS::Topic':
      return arn('sns', id);
    case 'AWS::SQS::Queue':
      return `${sqsEndpoint}/${accountId}/${id}`;
    default:
      return id;
  }
}

/**
 * `Fn::GetAtt <id>.Arn` in the form AWS gives it for the type, so that a policy evaluated locally
 * (local/iam/) sees ARNs of the resource type its actions expect.
 */
function localArn(
  id: string,
  resource: CfnResource,
  ref: string,
  { partition, accountId, arn }: Where,
): string {
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return `arn:${partition}:s3:::${ref}`;
    case 'AWS::IAM::Role':
      return `arn:${partition}:iam::${accountId}:role/${ref}`;
    case 'AWS::Logs::LogGroup':
      return arn('logs', `log-group:${ref}:*`);
    case 'AWS::SQS::Queue':
      return arn('sqs', id);
    case 'AWS::SNS::Topic':
    case 'AWS::StepFunctions::StateMachine':
      return ref;
    default: {
      const [, service, kind] = resource.Type.split('::');
      return arn(service.toLowerCase(), `${kind.toLowerCase()}/${id}`);
    }
  }
}

/** A task definition's `Family`, or its logical ID when the template names none. */
export function familyOf(id: string, resource: CfnResource): string {
  const family = resource.Properties?.Family;
  return typeof family === 'string' ? family : id;
}

export function refOf(value: unknown): string | undefined {
  return isPlainObject(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
