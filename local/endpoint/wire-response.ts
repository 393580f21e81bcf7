import { AwsServiceError } from '../aws-service';
import type { WireModel } from './wire-models';

/** One answer of the endpoint, ready to write. */
export interface WireResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The refusals the endpoint itself makes, each under the code the protocol's clients know it by
 * (JSON protocol first, query protocol second) and the HTTP status AWS answers with.
 */
export const ENDPOINT_ERRORS = {
  unknownAction: { json: ['UnknownOperationException', 400], query: ['InvalidAction', 400] },
  malformedBody: { json: ['SerializationException', 400], query: ['MalformedQueryString', 400] },
  unknownAccessKey: { json: ['UnrecognizedClientException', 400], query: ['InvalidClientTokenId', 403] },
  signatureMismatch: { json: ['InvalidSignatureException', 400], query: ['SignatureDoesNotMatch', 403] },
  unsigned: {
    json: ['MissingAuthenticationTokenException', 400],
    query: ['MissingAuthenticationToken', 403],
  },
  accessDenied: { json: ['AccessDeniedException', 400], query: ['AccessDenied', 403] },
  invalidParameter: { json: ['ValidationException', 400], query: ['InvalidParameterValue', 400] },
} as const;

export type EndpointErrorKind = keyof typeof ENDPOINT_ERRORS;

/** An AwsServiceError for one of ENDPOINT_ERRORS, in the protocol the request came in. */
export function endpointError(kind: EndpointErrorKind, protocol: 'json' | 'query', message: string) {
  const [code, status] = ENDPOINT_ERRORS[kind][protocol];
  return new AwsServiceError(code, message, status);
}

/**
 * A service refuses an action it does not serve with the JSON protocol's UnknownOperationException;
 * a query client knows that refusal as InvalidAction (and the other way round).
 */
export function inProtocol(error: AwsServiceError, protocol: 'json' | 'query'): AwsServiceError {
  const { json, query } = ENDPOINT_ERRORS.unknownAction;
  const [from, to] = protocol === 'json' ? [query, json] : [json, query];
  return error.code === from[0] ? new AwsServiceError(to[0], error.message, to[1]) : error;
}

/** The code and status a query client sees for a service's error: the model's `awsQueryError`, if any. */
export function queryErrorOf(model: WireModel, error: AwsServiceError): { code: string; status: number } {
  const traits = model.error(error.code)?.getMergedTraits() as
    { awsQueryError?: readonly [string, number] } | undefined;
  const [code, status] = traits?.awsQueryError ?? [error.code, error.statusCode];
  return { code, status };
}
