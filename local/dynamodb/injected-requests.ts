import type { RequestListener } from 'node:http';

import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandler } from '@smithy/types';
import inject, { type InjectOptions } from 'light-my-request';

/**
 * An AWS SDK request handler that hands each request to a Node request listener in this process
 * (light-my-request's injection: the listener gets an IncomingMessage and a ServerResponse as from a
 * socket) instead of sending it over loopback. For a client of a server in the same process (the
 * engine's DynamoDB client and dynalite): the same request bytes, signature and answer, without two
 * HTTP stacks, a socket and the SDK's pool of 50 sockets, which Step Functions' own calls to DynamoDB
 * do not queue behind.
 */
export class InjectedRequestHandler implements RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> {
  constructor(private readonly listener: RequestListener) {}

  async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
    if (options?.abortSignal?.aborted) throw abortError();
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) {
      for (const one of [value ?? ''].flat()) query.append(name, one);
    }
    const search = query.size > 0 ? `?${query}` : '';
    const response = await inject(this.listener, {
      method: request.method as InjectOptions['method'],
      url: `${request.path}${search}`,
      headers: request.headers,
      payload: payloadOf(request.body),
      // The SDK's requests and the JSON requests are well formed: no schema check of each one's options.
      validate: false,
    });
    if (options?.abortSignal?.aborted) throw abortError();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = [value].flat().join(', ');
    }
    return {
      response: {
        statusCode: response.statusCode,
        reason: response.statusMessage,
        headers,
        body: response.rawPayload,
      },
    };
  }
}

/** A request body as light-my-request takes it: the SDK gives a string, bytes (a Uint8Array) or a stream. */
function payloadOf(body: unknown): string | Buffer | NodeJS.ReadableStream | undefined {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return body as string | NodeJS.ReadableStream | undefined;
}

/** What the SDK's own handlers reject an aborted request with. */
function abortError(): Error {
  const error = new Error('Request aborted');
  error.name = 'AbortError';
  return error;
}
