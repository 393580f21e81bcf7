import type { IncomingMessage } from 'node:http';

/**
 * Who signed a request and for which service, from its SigV4 credential scope
 * (`Credential=AKID/20261201/us-east-1/sqs/aws4_request`), in the Authorization header or, for a
 * presigned URL, the `X-Amz-Credential` query parameter. Undefined for an unsigned request.
 */
export interface CredentialScope {
  readonly accessKeyId: string;
  readonly region: string;
  /** The signing name: `s3`, `dynamodb`, `sqs`, `cloudformation`, `states`... */
  readonly service: string;
}

export function credentialScope(request: IncomingMessage): CredentialScope | undefined {
  const header = /Credential=([^,\s]+)/.exec(request.headers.authorization ?? '')?.[1];
  const credential =
    header ??
    new URL(request.url ?? '/', 'http://localhost').searchParams.get('X-Amz-Credential') ??
    undefined;
  const [accessKeyId, , region, service, terminator] = credential?.split('/') ?? [];
  if (!accessKeyId || !region || !service || terminator !== 'aws4_request') return undefined;
  return { accessKeyId, region, service };
}
