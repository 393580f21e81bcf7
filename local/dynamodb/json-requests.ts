import type { HttpRequest } from '@smithy/types';

import type { InjectedRequestHandler } from './injected-requests';

/**
 * DynamoDB's JSON protocol, spoken to dynalite in this process without the AWS SDK: for Step
 * Functions' own calls (the engine's `dynamodb:*` and `aws-sdk:dynamodb:*` Task states), whose
 * Parameters already are the API's JSON request body, as Step Functions sends them. The SDK's
 * client would serialize them into the same body, sign it and parse the answer back into the same
 * JSON: more than half of each call's CPU (an UpdateItem: 1.47 ms through the client, 0.60 ms as
 * JSON, in a micro-benchmark of 2,000), some 17 calls an object. Errors keep the SDK's names and
 * messages (the `__type` after `#`; `message`, else `Message`), so Task states fail as before.
 */

/** An SDK command: its class names the operation (`UpdateItemCommand`), its input is the request. */
export interface DynamoDbCommand {
  readonly input: unknown;
}

/** What sends a DynamoDB command and answers with its output: an SDK client, or this. */
export interface DynamoDbSender {
  send(command: DynamoDbCommand): Promise<unknown>;
}

/** The service errors, as the SDK throws them: name, message and the answer's metadata. */
class DynamoDbServiceError extends Error {
  constructor(
    name: string,
    message: string,
    readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string },
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * dynalite checks that a request is signed (the header's form), not by whom; a request from Step
 * Functions itself has no caller's signature to check, as the endpoint checks none for it.
 */
const UNCHECKED_SIGNATURE =
  'AWS4-HMAC-SHA256 Credential=LOCAL/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0';

export class DynamoDbJsonRequests implements DynamoDbSender {
  constructor(private readonly handler: InjectedRequestHandler) {}

  async send(command: DynamoDbCommand): Promise<Record<string, unknown>> {
    const operation = command.constructor.name.replace(/Command$/, '');
    const request: HttpRequest = {
      method: 'POST',
      protocol: 'http:',
      hostname: 'localhost',
      path: '/',
      query: {},
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        'x-amz-date': '20260101T000000Z',
        authorization: UNCHECKED_SIGNATURE,
      },
      body: JSON.stringify(command.input ?? {}),
    };
    const { response } = await this.handler.handle(request);
    const text = Buffer.from(response.body as Uint8Array).toString('utf8');
    const answer = parsed(text);
    if (response.statusCode < 300) return answer;
    // As the SDK's JSON-RPC protocol reads an error (@aws-sdk/core: loadJsonRpcErrorCode, handleError).
    const type = typeof answer.__type === 'string' ? answer.__type : undefined;
    const code = type?.split(',')[0].split(':')[0];
    const name = code === undefined ? 'Unknown' : code.includes('#') ? code.split('#')[1] : code;
    const message = answer.message ?? answer.Message ?? 'UnknownError';
    throw new DynamoDbServiceError(name, String(message), {
      httpStatusCode: response.statusCode,
      requestId: response.headers['x-amzn-requestid'],
    });
  }
}

/** The answer's JSON object; an empty or unparsable body (dynalite's 413 and 404) as `{}`, as the SDK takes it. */
function parsed(text: string): Record<string, unknown> {
  try {
    const value: unknown = text.length === 0 ? {} : JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
