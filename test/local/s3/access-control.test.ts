import type { IncomingMessage } from 'node:http';

import { accessKeyOf, requiredAccesses } from '../../../local/s3/access-control';

function request(method: string, url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { method, url, headers } as unknown as IncomingMessage;
}

const object = 'arn:aws:s3:::data/incoming/a%20b+c.csv'.replace('%20', ' ');

describe('requiredAccesses: the IAM authorizations S3 makes per operation', () => {
  test.each([
    ['GET', '/data/incoming/a%20b%2Bc.csv', {}, [['s3:GetObject', object]]],
    ['HEAD', '/data/incoming/a%20b%2Bc.csv?versionId=v1', {}, [['s3:GetObjectVersion', object]]],
    ['PUT', '/data/incoming/a%20b%2Bc.csv', {}, [['s3:PutObject', object]]],
    ['POST', '/data/incoming/a%20b%2Bc.csv?uploads', {}, [['s3:PutObject', object]]],
    ['PUT', '/data/incoming/a%20b%2Bc.csv?partNumber=1&uploadId=u', {}, [['s3:PutObject', object]]],
    ['DELETE', '/data/incoming/a%20b%2Bc.csv?uploadId=u', {}, [['s3:AbortMultipartUpload', object]]],
    ['DELETE', '/data/incoming/a%20b%2Bc.csv?versionId=v1', {}, [['s3:DeleteObjectVersion', object]]],
    [
      'PUT',
      '/data/processed/copy',
      { 'x-amz-copy-source': '/data/incoming/x.csv?versionId=v2' },
      [
        ['s3:PutObject', 'arn:aws:s3:::data/processed/copy'],
        ['s3:GetObjectVersion', 'arn:aws:s3:::data/incoming/x.csv'],
      ],
    ],
    ['GET', '/data?list-type=2&prefix=incoming%2F', {}, [['s3:ListBucket', 'arn:aws:s3:::data']]],
    ['GET', '/data?versions', {}, [['s3:ListBucketVersions', 'arn:aws:s3:::data']]],
    ['POST', '/data?delete', {}, [['s3:DeleteObject', 'arn:aws:s3:::data/*']]],
    ['GET', '/', {}, [['s3:ListAllMyBuckets', '*']]],
  ])('%s %s', (method, url, headers, expected) => {
    const accesses = requiredAccesses(request(method, url, headers), 'aws');
    expect(typeof accesses === 'string' ? accesses : accesses.map((a) => [a.action, a.resource])).toEqual(
      expected,
    );
  });

  test('carries the condition keys of the request: SSE headers on writes, the prefix on listings', () => {
    const put = requiredAccesses(
      request('PUT', '/data/incoming/k', {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/k1',
      }),
      'aws',
    );
    expect(put).toEqual([
      {
        action: 's3:PutObject',
        resource: 'arn:aws:s3:::data/incoming/k',
        context: {
          's3:x-amz-server-side-encryption': 'aws:kms',
          's3:x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/k1',
        },
      },
    ]);
    expect(requiredAccesses(request('GET', '/data?list-type=2&prefix=incoming%2F'), 'aws')).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::data', context: { 's3:prefix': 'incoming/' } },
    ]);
  });

  test('an operation it does not know is named, never let through', () => {
    expect(requiredAccesses(request('PUT', '/data?lifecycle'), 'aws')).toBe('PUT /data?lifecycle');
    expect(requiredAccesses(request('POST', '/data/k?restore'), 'aws')).toBe('POST /data/k?restore');
  });
});

describe('accessKeyOf', () => {
  test('reads the key of a SigV4 header, a SigV2 header and a presigned URL; none when unsigned', () => {
    const v4 =
      'AWS4-HMAC-SHA256 Credential=ASIA0123456789ABCDEF/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc';
    expect(accessKeyOf(request('GET', '/b/k', { authorization: v4 }))).toBe('ASIA0123456789ABCDEF');
    expect(accessKeyOf(request('GET', '/b/k', { authorization: 'AWS S3RVER:sig' }))).toBe('S3RVER');
    expect(
      accessKeyOf(
        request('GET', '/b/k?X-Amz-Credential=ASIAX%2F20261201%2Fus-east-1%2Fs3%2Faws4_request', {}),
      ),
    ).toBe('ASIAX');
    expect(accessKeyOf(request('GET', '/b/k'))).toBeUndefined();
  });
});
