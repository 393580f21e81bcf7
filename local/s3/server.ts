import { type AddressInfo, createServer } from 'node:net';

import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

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
}

export interface LocalS3Server {
  /** e.g. `http://127.0.0.1:4569` */
  readonly endpoint: string;
  readonly port: number;
  /** The s3rver instance: its `event` emitter reports object writes. */
  readonly server: S3rver;
  close(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (loopback only) with the given buckets. */
export async function startLocalS3Server(options: LocalS3ServerOptions): Promise<LocalS3Server> {
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  if (options.port) await assertPortFree(options.port);
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    server,
    close: () => server.close(),
  };
}

/**
 * s3rver's run() never settles when the port is taken: the listen error is emitted on an http.Server
 * it creates internally, with no listener, and crashes the process. Probing first turns that into a
 * rejected promise with the usual EADDRINUSE error.
 */
function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/**
 * Environment that points the AWS SDK (worker or CLI) at the local server.
 * The checksum settings are needed because s3rver rejects the SDK's default
 * streaming checksum (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
 */
export function localS3Environment(endpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
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
