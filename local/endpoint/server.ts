import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { type CredentialScope, credentialScope } from './credential-scope';
import { decodeJsonRequest, encodeJsonError, encodeJsonResponse } from './json-protocol';
import { decodeQueryRequest, encodeQueryError, encodeQueryResponse } from './query-protocol';
import { signatureMatches } from './signature';
import { WIRE_MODELS, type WireModel, type WireOperation } from './wire-models';
import { endpointError, inProtocol, type WireResponse } from './wire-response';

/**
 * The local AWS on one loopback port, as LocalStack serves on its edge port: each request goes to
 * the service its SigV4 credential scope names, or its `X-Amz-Target` names:
 * - S3 (unsigned requests too, and `<bucket>.localhost` virtual hosts) to s3rver's handler;
 * - DynamoDB (`DynamoDB_20120810.*`) to dynalite's handler;
 * - any other service to the LocalAwsService registered under its signing name, through the codec
 *   of the protocol the request speaks (JSON with X-Amz-Target, or the query protocol), so one
 *   codec serves every service of that protocol.
 * Errors come back as that protocol's clients parse them; a service, action or body the endpoint
 * does not know gets AWS's refusal naming it, never a 404 page.
 */

/** Who a request is signed by, and whether they may call the action (the caller's IAM, locally). */
export interface EndpointAccess {
  /** The secret of a key the local account issued; undefined for any other key. */
  secretOf(accessKeyId: string): string | undefined;
  /** For a key it issued: the AccessDenied message, or undefined when the action is allowed. */
  authorize(accessKeyId: string, signingName: string, action: string): Promise<string | undefined>;
}

export interface LocalEndpointOptions {
  /** @default 0 - any free port */
  readonly port?: number;
}

export interface LocalEndpoint {
  /** e.g. `http://127.0.0.1:4566` */
  readonly url: string;
  readonly port: number;
  /** S3's request handler (local/s3/server.ts): it gets each S3 request, path-style. */
  serveS3(handler: RequestListener): void;
  /** DynamoDB's request handler (dynalite's). */
  serveDynamoDb(handler: RequestListener): void;
  /**
   * Who may call what. Until it is set, every signed request is refused as signed by a key the
   * account never issued (nothing is served before then either).
   */
  authorizeWith(access: EndpointAccess): void;
  /** Serves `service` under its signing name; its wire model must be one of WIRE_MODELS. */
  register(service: LocalAwsService): void;
  /** The signing names served, for the banner and for errors. */
  served(): string[];
  close(): Promise<void>;
}

const DYNAMODB_TARGET_PREFIX = 'DynamoDB_20120810.';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.';

export async function startLocalEndpoint(options: LocalEndpointOptions): Promise<LocalEndpoint> {
  let s3: RequestListener | undefined;
  let dynamodb: RequestListener | undefined;
  // Until authorizeWith: no key is known, so every signed request is refused.
  let access: EndpointAccess = { secretOf: () => undefined, authorize: async () => undefined };
  const services = new Map<string, { service: LocalAwsService; model: WireModel }>();
  const byTargetPrefix = new Map<string, WireModel>();
  for (const model of WIRE_MODELS.values()) {
    if (model.json) byTargetPrefix.set(model.json.targetPrefix, model);
  }
  const served = () => [...(s3 ? ['s3'] : []), ...(dynamodb ? ['dynamodb'] : []), ...services.keys()];

  const http = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      // A fault of the emulator itself: answered as AWS answers its own, 500 InternalFailure.
      if (!response.headersSent) {
        write(response, request, encodeJsonError(undefined, internalFailure(error), randomUUID()));
      } else {
        response.destroy();
      }
    });
  });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = header(request, 'x-amz-target');
    const scope = credentialScope(request);
    if (target?.startsWith(DYNAMODB_TARGET_PREFIX) || (!target && scope?.service === 'dynamodb')) {
      if (!dynamodb) return write(response, request, notServed('dynamodb', target ? 'json' : 'query'));
      if (!scope) return dynamodb(request, response); // dynalite refuses it as DynamoDB does
      // dynalite checks that a request is signed, not by whom: the key, the signature and the IAM
      // decision are the endpoint's; dynalite then reads the body again, replayed.
      const body = await readBody(request);
      const action = target?.slice(DYNAMODB_TARGET_PREFIX.length) ?? '';
      const refused = await refusal(request, body.toString('utf8'), scope, 'dynamodb', action, 'json');
      if (refused) return write(response, request, encodeJsonError(undefined, refused, randomUUID()));
      const replay = Object.assign(Readable.from([body]), {
        method: request.method,
        url: request.url,
        headers: request.headers,
      });
      return dynamodb(replay as unknown as IncomingMessage, response);
    }
    if (!target && (!scope || scope.service === 's3')) {
      if (!s3) return write(response, request, notServed('s3', 'query'));
      toPathStyle(request);
      return s3(request, response);
    }
    const protocol = target ? 'json' : 'query';
    const model =
      (target ? byTargetPrefix.get(target.split('.')[0]) : undefined) ??
      (scope ? WIRE_MODELS.get(scope.service) : undefined);
    const entry = model && services.get(model.signingName);
    if (!model || !entry) {
      const service = model?.signingName ?? scope?.service ?? target!;
      return write(
        response,
        request,
        notServed(service, target ? 'json' : unknownServiceProtocol(request, service)),
      );
    }
    if (!(protocol === 'json' ? model.json : model.query)) {
      // A client of the service expects its own protocol's answer, whatever this request spoke.
      const spoken = model.json ? 'json' : 'query';
      const how = model.json
        ? `the AWS JSON protocol (X-Amz-Target: ${model.json.targetPrefix}.<Action>)`
        : 'the query protocol (a form with Action=<Action>, no X-Amz-Target)';
      const error = endpointError(
        'unknownAction',
        spoken,
        `The ${model.signingName} service speaks ${how}: this request spoke the ${protocol === 'json' ? 'JSON protocol' : 'query protocol'}`,
      );
      const requestId = randomUUID();
      return write(
        response,
        request,
        spoken === 'json'
          ? encodeJsonError(model, error, requestId)
          : encodeQueryError(model, error, requestId),
      );
    }
    const body = (await readBody(request)).toString('utf8');
    const requestId = randomUUID();
    const answer = (error: AwsServiceError) =>
      protocol === 'json'
        ? encodeJsonError(model, inProtocol(error, 'json'), requestId)
        : encodeQueryError(model, inProtocol(error, 'query'), requestId);
    try {
      const form = protocol === 'query' ? queryForm(request, body) : undefined;
      const action = target ? target.slice(target.indexOf('.') + 1) : (form!.get('Action') ?? '');
      const operation = model.operation(action);
      if (!operation) {
        throw endpointError(
          'unknownAction',
          protocol,
          action === ''
            ? `The request names no action: the ${model.signingName} service needs ${target ? 'X-Amz-Target' : 'an Action parameter'}`
            : `The action ${action} is not valid for the ${model.signingName} service`,
        );
      }
      if (!scope) {
        throw endpointError(
          'unsigned',
          protocol,
          `Request is missing Authentication Token: sign it with SigV4`,
        );
      }
      const refused = await refusal(request, body, scope, model.signingName, action, protocol);
      if (refused) throw refused;
      const input = form ? decodeQueryRequest(form, operation.input) : decodeJsonRequest(body);
      // SQS names each missing parameter itself (MissingParameter), as it did before it spoke JSON.
      if (protocol === 'json' && !model.queryCompatible) refuseMissing(operation, input);
      const output = await entry.service.call(action, input);
      return write(
        response,
        request,
        protocol === 'json'
          ? encodeJsonResponse(model, output, requestId)
          : encodeQueryResponse(model, action, operation.output, output, requestId),
      );
    } catch (error) {
      return write(
        response,
        request,
        answer(error instanceof AwsServiceError ? error : internalFailure(error)),
      );
    }
  }

  /**
   * Why a signed request is refused, as the protocol's error: a key never issued, a signature its
   * secret does not give, an action the caller's IAM denies; undefined when it may go on.
   */
  async function refusal(
    request: IncomingMessage,
    body: string,
    scope: CredentialScope,
    signingName: string,
    action: string,
    protocol: 'json' | 'query',
  ): Promise<AwsServiceError | undefined> {
    const secret = access.secretOf(scope.accessKeyId);
    if (secret === undefined) {
      return endpointError(
        'unknownAccessKey',
        protocol,
        'The security token included in the request is invalid.',
      );
    }
    if (!(await signatureMatches(request, body, scope, secret))) {
      return endpointError('signatureMismatch', protocol, SIGNATURE_MISMATCH);
    }
    const denied = await access.authorize(scope.accessKeyId, signingName, action);
    return denied === undefined ? undefined : endpointError('accessDenied', protocol, denied);
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    serveS3: (handler) => {
      s3 = handler;
    },
    serveDynamoDb: (handler) => {
      dynamodb = handler;
    },
    authorizeWith: (decider) => {
      access = decider;
    },
    register: (service) => {
      const model = WIRE_MODELS.get(service.signingName);
      if (!model) {
        throw new Error(
          `No wire model for the signing name "${service.signingName}": add its SDK client's schemas to local/endpoint/wire-models.ts`,
        );
      }
      services.set(service.signingName, { service, model });
    },
    served,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((error) => (error ? reject(error) : resolve()));
        http.closeAllConnections();
      }),
  };

  function notServed(service: string, protocol: 'json' | 'query'): WireResponse {
    const error = endpointError(
      'unknownAction',
      protocol,
      `The local endpoint serves no service "${service}": it serves ${served().join(', ')}`,
    );
    const requestId = randomUUID();
    return protocol === 'json'
      ? encodeJsonError(undefined, error, requestId)
      : encodeQueryError(undefined, error, requestId);
  }
}

/**
 * A JSON service refuses a request without one of the operation's required members before the
 * action runs, as AWS's request validation does (`Value null at 'executionArn' failed to satisfy
 * constraint: Member must not be null`).
 */
function refuseMissing(operation: WireOperation, input: Record<string, unknown>): void {
  const missing = operation.required.filter(
    (member) => input[member] === undefined || input[member] === null,
  );
  if (missing.length === 0) return;
  throw endpointError(
    'invalidParameter',
    'json',
    `${missing.length} validation error${missing.length > 1 ? 's' : ''} detected: ` +
      missing
        .map((member) => `Value null at '${member}' failed to satisfy constraint: Member must not be null`)
        .join('; '),
  );
}

function internalFailure(error: unknown): AwsServiceError {
  return new AwsServiceError(
    'InternalFailure',
    `The local endpoint failed: ${(error as Error)?.message ?? error}`,
    500,
  );
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The services besides S3 that answer in REST-XML: their clients read an error as the query protocol's XML. */
const REST_XML_SERVICES = new Set(['route53', 'cloudfront']);

/**
 * The protocol a client of a service the endpoint does not serve reads an error in, from a request
 * without X-Amz-Target: XML for the query protocol (a form with Action=) and the REST-XML
 * services, JSON for the REST-JSON ones (Lambda, EventBridge Scheduler, ...), whose clients cannot
 * read XML.
 */
function unknownServiceProtocol(request: IncomingMessage, service: string): 'json' | 'query' {
  const form =
    (header(request, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded') ||
    new URL(request.url ?? '/', 'http://localhost').searchParams.has('Action');
  return form || REST_XML_SERVICES.has(service) ? 'query' : 'json';
}

/** A query request's fields: the URL's query string, and a form-encoded POST body. */
function queryForm(request: IncomingMessage, body: string): URLSearchParams {
  const form = new URL(request.url ?? '/', 'http://localhost').searchParams;
  for (const [name, value] of new URLSearchParams(body)) form.append(name, value);
  return form;
}

/**
 * `<bucket>.localhost:<port>` (virtual-hosted style) becomes `localhost:<port>/<bucket>/...`, the
 * path style s3rver and the local access control read. SigV4 signatures are not re-checked
 * downstream, so the rewrite does not invalidate the request.
 */
function toPathStyle(request: IncomingMessage): void {
  const host = request.headers.host ?? '';
  const match = /^(.+)\.localhost(:\d+)?$/i.exec(host);
  if (!match) return;
  const path = request.url ?? '/';
  request.url = `/${match[1]}${path === '/' || path.startsWith('/?') ? path.slice(1) : path}`;
  request.headers.host = `localhost${match[2] ?? ''}`;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function write(response: ServerResponse, request: IncomingMessage, answer: WireResponse): void {
  response.writeHead(answer.status, answer.headers);
  response.end(request.method === 'HEAD' ? undefined : answer.body);
}
