import type { AwsServiceError } from '../aws-service';
import { isPlainObject } from '../cloudformation/intrinsics';
import type { WireModel } from './wire-models';
import { endpointError, queryErrorOf, type WireResponse } from './wire-response';

/**
 * The AWS JSON protocols (1.0 and 1.1): `POST /` with `X-Amz-Target: <prefix>.<Action>` and the
 * request as a JSON object; the answer a JSON object, timestamps as epoch seconds; an error
 * `{"__type": "<namespace>#<Code>", "message": ...}` with its HTTP status (and, for a service once
 * spoken over the query protocol, its query code in `x-amzn-query-error`), as botocore's and the
 * SDK's JSON protocol tests show them.
 */

export function decodeJsonRequest(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw endpointError('malformedBody', 'json', `The request body is not JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) {
    throw endpointError('malformedBody', 'json', 'The request body must be a JSON object');
  }
  return parsed;
}

export function encodeJsonResponse(
  model: WireModel,
  output: Record<string, unknown>,
  requestId: string,
): WireResponse {
  return {
    status: 200,
    headers: headers(model, requestId),
    // Timestamps go as epoch seconds, what the JSON protocols' clients parse.
    body: JSON.stringify(output, function (key, value: unknown) {
      const raw = (this as Record<string, unknown>)[key];
      return raw instanceof Date ? raw.getTime() / 1000 : value;
    }),
  };
}

/** `model`: the service's, when the request reached one (an error of the endpoint itself has none). */
export function encodeJsonError(
  model: WireModel | undefined,
  error: AwsServiceError,
  requestId: string,
): WireResponse {
  const modelled = model?.error(error.code);
  // A modelled error's status is the model's (SQS's ReceiptHandleIsInvalid is a 404).
  const status = (modelled?.getMergedTraits().httpError as number | undefined) ?? error.statusCode;
  const extra: Record<string, string> = {};
  if (model?.queryCompatible) {
    const query = queryErrorOf(model, error);
    extra['x-amzn-query-error'] = `${query.code};${status >= 500 ? 'Receiver' : 'Sender'}`;
  }
  return {
    status,
    headers: { ...headers(model, requestId), ...extra },
    body: JSON.stringify({
      __type: modelled ? `${model!.namespace}#${error.code}` : error.code,
      message: error.message,
    }),
  };
}

function headers(model: WireModel | undefined, requestId: string): Record<string, string> {
  return {
    'Content-Type': `application/x-amz-json-${model?.json?.version ?? '1.0'}`,
    'x-amzn-RequestId': requestId,
  };
}
