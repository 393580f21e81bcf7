import type { IncomingMessage } from 'node:http';

import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

import type { CredentialScope } from './credential-scope';

/**
 * Whether a request's SigV4 signature (Authorization header) is the one its key's secret gives: the
 * request is signed again with the SDK's own signer, over the headers it says it signed, and the
 * two signatures compared, as AWS checks them. A presigned request (signature in the query string)
 * is not checked here: only S3 takes those, and s3rver answers for S3.
 */
export async function signatureMatches(
  request: IncomingMessage,
  body: string,
  scope: CredentialScope,
  secretAccessKey: string,
): Promise<boolean> {
  const authorization = request.headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,\s]+)/.exec(authorization)?.[1]?.split(';');
  const signature = /Signature=([0-9a-f]+)/.exec(authorization)?.[1];
  if (!signedHeaders || !signature) return !authorization.startsWith('AWS4-HMAC-SHA256');
  const amzDate = header(request, 'x-amz-date');
  const signingDate = amzDate
    ? new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
    : new Date(header(request, 'date') ?? NaN);
  if (Number.isNaN(signingDate.getTime())) return false;
  const url = new URL(request.url ?? '/', 'http://localhost');
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const earlier = query[name];
    query[name] = earlier === undefined ? value : [...[earlier].flat(), value];
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = header(request, name);
    if (value !== undefined) headers[name] = value;
  }
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: scope.accessKeyId,
      secretAccessKey,
      sessionToken: header(request, 'x-amz-security-token'),
    },
    region: scope.region,
    service: scope.service,
    sha256: Sha256,
    // The client's x-amz-content-sha256 is used if it sent one; none is added.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: '',
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] === signature;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
