import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

import { accessDeniedXml } from './access-control';
import { AtomicFilesystemStore } from './atomic-store';
import { isListObjectsV2, listObjectsV2 } from './list-objects-v2';
import { isUploadPartCopy, uploadPartCopy } from './upload-part-copy';

/**
 * s3rver keeps the credentials it accepts in its account model, which has no export in its typings:
 * a session's key is added there while the session lives (s3rver checks that a signing key exists,
 * not the signature itself).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DUMMY_ACCOUNT: S3RVER_ACCOUNT } = require('s3rver/lib/models/account') as {
  DUMMY_ACCOUNT: {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
    revokeAccessKey(accessKeyId: string): void;
  };
};

/** The name of the request handler koa-logger returns (s3rver's first middleware). */
const KOA_LOGGER = 'logger';

/** Credentials s3rver accepts by default; they grant nothing anywhere else. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface LocalS3ServerOptions {
  /** Directory that holds the objects. */
  readonly directory: string;
  /** Buckets created before the server accepts requests. */
  readonly buckets: readonly string[];
  /** @default 0 - any free port */
  readonly port?: number;
  /**
   * Decides each request before the server sees it: the AccessDenied message for a refused one
   * (answered with S3's 403), undefined to let it through.
   * @default - every request is let through
   */
  readonly authorize?: (request: IncomingMessage) => Promise<string | undefined>;
  /**
   * Serve behind the local endpoint (local/endpoint/server.ts) on its port, instead of a port of its own.
   * @default - its own port
   */
  readonly endpoint?: {
    readonly url: string;
    readonly port: number;
    serveS3(handler: RequestListener): void;
  };
}

export interface LocalS3Server {
  /** e.g. `http://127.0.0.1:4569` */
  readonly endpoint: string;
  readonly port: number;
  /** The s3rver instance: its `event` emitter reports object writes. */
  readonly server: S3rver;
  /** Makes the server accept requests signed with this key (a role session's) until `forgetAccessKey`. */
  acceptAccessKey(accessKeyId: string, secretAccessKey: string): void;
  forgetAccessKey(accessKeyId: string): void;
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 (loopback only) with the given buckets, behind `authorize`: s3rver
 * serves as the request handler of an HTTP server of ours (its documented embedding), so each
 * request is decided before s3rver reads it. Its store is made atomic per object (atomic-store.ts),
 * UploadPartCopy, which s3rver does not implement, is served beside it (upload-part-copy.ts), and so
 * is ListObjectsV2, which it cannot page (list-objects-v2.ts).
 */
export async function startLocalS3Server(options: LocalS3ServerOptions): Promise<LocalS3Server> {
  const server = new S3rver({
    silent: true,
    directory: options.directory,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  // s3rver logs each request through koa-logger, which formats the line (colours, sizes, and a
  // counting stream around each object it sends) even when `silent` then drops it: nothing reads
  // those lines, so the middleware is left out. (s3rver is a Koa application; its typings leave out
  // the Koa side.)
  const middleware = (server as unknown as { middleware: ((...args: unknown[]) => unknown)[] }).middleware;
  const logger = middleware.findIndex((handler) => handler.name === KOA_LOGGER);
  if (logger !== -1) middleware.splice(logger, 1);
  // Every request handler reads the store from the context s3rver gives it.
  const store = new AtomicFilesystemStore(options.directory);
  Object.assign(server, { store });
  Object.assign((server as unknown as { context: object }).context, { store });
  await server.configureBuckets();
  const serve = server.getMiddleware();
  const handle: RequestListener = (request, response) => {
    const decided = options.authorize ? options.authorize(request) : Promise.resolve(undefined);
    decided.then(
      (denied) => {
        if (denied === undefined && isUploadPartCopy(request))
          return uploadPartCopy(store, request, response);
        if (denied === undefined && isListObjectsV2(request)) return listObjectsV2(store, request, response);
        if (denied === undefined) return serve(request, response);
        response.writeHead(403, { 'Content-Type': 'application/xml', 'x-amz-error-code': 'AccessDenied' });
        response.end(request.method === 'HEAD' ? undefined : accessDeniedXml(denied));
      },
      (error: Error) => {
        response.writeHead(500, { 'Content-Type': 'text/plain' });
        response.end(`Local S3 authorization failed: ${error.message}`);
      },
    );
  };
  const keys = {
    server,
    acceptAccessKey: (accessKeyId: string, secretAccessKey: string) =>
      S3RVER_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey),
    forgetAccessKey: (accessKeyId: string) => S3RVER_ACCOUNT.revokeAccessKey(accessKeyId),
  };
  if (options.endpoint) {
    options.endpoint.serveS3(handle);
    return { endpoint: options.endpoint.url, port: options.endpoint.port, ...keys, close: async () => {} };
  }
  const http = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    ...keys,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((error) => (error ? reject(error) : resolve()));
        http.closeAllConnections();
      }),
  };
}

/**
 * Environment that points the AWS SDK (worker or CLI) at the local server, with the server's own
 * (unrestricted) credentials.
 */
export function localS3Environment(endpoint: string): Record<string, string> {
  return {
    ...localS3EndpointEnvironment(endpoint),
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  };
}

/**
 * The same without credentials, for a process that gets its own (a local task, its role's).
 * The checksum settings are needed because s3rver rejects the SDK's default
 * streaming checksum (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
 */
export function localS3EndpointEnvironment(endpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_S3_FORCE_PATH_STYLE: 'true',
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

/** An S3 client for the local server, configured as `localS3Environment` configures the worker. */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    region: LOCAL_REGION,
    endpoint,
    forcePathStyle: true,
    credentials: { ...LOCAL_S3_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
