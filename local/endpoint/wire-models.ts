import * as cloudformation from '@aws-sdk/client-cloudformation';
import * as eventbridge from '@aws-sdk/client-eventbridge';
import * as sfn from '@aws-sdk/client-sfn';
import * as sqs from '@aws-sdk/client-sqs';
import { NormalizedSchema } from '@smithy/core/schema';

/**
 * How each service the endpoint serves is spoken on the wire, taken from the AWS SDK for JavaScript
 * v3's own schemas (every client exports its operations' input, output and error shapes, with the
 * traits the protocols need: xmlName, xmlFlattened, awsQueryError): the same model the SDK, the AWS
 * CLI and boto3 are generated from, so the endpoint decodes requests and encodes answers exactly
 * as a client of that service expects, and nothing here is typed in by hand per action.
 */

/** An SDK operation schema: `[9, namespace, name, traits, input, output]`. */
type OperationSchema = readonly [9, string, string, unknown, unknown, unknown];
/** An SDK structure schema: `[3, namespace, name, traits, memberNames, members, requiredCount?]`. */
type StructureSchema = readonly [3, string, string, unknown, readonly string[], unknown, number?];

export interface WireOperation {
  readonly name: string;
  readonly input: NormalizedSchema;
  readonly output: NormalizedSchema;
  /** The input's required members (the SDK's schemas list them first, and say how many). */
  readonly required: readonly string[];
}

export interface WireModel {
  /** The SigV4 signing name: `sqs`, `cloudformation`, `states`, `events`. */
  readonly signingName: string;
  /** The Smithy namespace of the service's errors, as JSON `__type`s carry it. */
  readonly namespace: string;
  /** JSON protocol: `X-Amz-Target: <targetPrefix>.<Action>`, and the content type's version. */
  readonly json?: { readonly targetPrefix: string; readonly version: '1.0' | '1.1' };
  /** Query protocol (form-encoded `Action=...`, XML answers): the namespace its answers carry. */
  readonly query?: { readonly xmlNamespace: string };
  /**
   * `awsQueryCompatible`: a service moved from the query protocol to JSON (SQS) names its errors
   * for old clients in an `x-amzn-query-error` header.
   */
  readonly queryCompatible: boolean;
  operation(action: string): WireOperation | undefined;
  /** The modelled error of that code, with its traits (`awsQueryError`, `httpError`). */
  error(code: string): NormalizedSchema | undefined;
}

function wireModel(
  client: Record<string, unknown>,
  settings: Omit<WireModel, 'operation' | 'error' | 'namespace'>,
): WireModel {
  const operations = new Map<string, WireOperation>();
  const errors = new Map<string, NormalizedSchema>();
  let namespace = '';
  for (const [exported, value] of Object.entries(client)) {
    if (!exported.endsWith('$') || !Array.isArray(value)) continue;
    if (value[0] === 9) {
      const [, ns, name, , input, output] = value as unknown as OperationSchema;
      namespace = ns;
      const inputSchema = NormalizedSchema.of(input as never);
      operations.set(name, {
        name,
        input: inputSchema,
        output: NormalizedSchema.of(output as never),
        required: requiredMembers(inputSchema),
      });
    } else if (value[0] === -3) {
      errors.set(value[2] as string, NormalizedSchema.of(value as never));
    }
  }
  return {
    ...settings,
    namespace,
    operation: (action) => operations.get(action),
    error: (code) => errors.get(code),
  };
}

/** A structure's required members: the first n of its member names, n the schema's seventh field. */
function requiredMembers(schema: NormalizedSchema): string[] {
  if (!schema.isStructSchema()) return [];
  const [, , , , names, , count] = schema.getSchema() as unknown as StructureSchema;
  return names.slice(0, count ?? 0);
}

/** The services the endpoint can serve, by signing name (S3 and DynamoDB are served by s3rver and dynalite). */
export const WIRE_MODELS: ReadonlyMap<string, WireModel> = new Map(
  [
    wireModel(sqs, {
      signingName: 'sqs',
      json: { targetPrefix: 'AmazonSQS', version: '1.0' },
      query: { xmlNamespace: 'http://queue.amazonaws.com/doc/2012-11-05/' },
      queryCompatible: true,
    }),
    wireModel(cloudformation, {
      signingName: 'cloudformation',
      query: { xmlNamespace: 'http://cloudformation.amazonaws.com/doc/2010-05-15/' },
      queryCompatible: false,
    }),
    wireModel(sfn, {
      signingName: 'states',
      json: { targetPrefix: 'AWSStepFunctions', version: '1.0' },
      queryCompatible: false,
    }),
    wireModel(eventbridge, {
      signingName: 'events',
      json: { targetPrefix: 'AWSEvents', version: '1.1' },
      queryCompatible: false,
    }),
  ].map((model) => [model.signingName, model]),
);
