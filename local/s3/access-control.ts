import type { IncomingMessage } from 'node:http';

import { ANONYMOUS } from '../iam/policy-evaluator';
import type { RoleSessions } from '../iam/role-sessions';
import type { Caller, TemplateIam } from '../iam/template-iam';

/**
 * What S3 authorizes for a request, and S3's answer when IAM refuses it. A request is turned into
 * the IAM actions S3 checks for its operation (AWS's "Required permissions for Amazon S3 API
 * operations"), each on the bucket or object ARN, with the condition keys the request carries; the
 * caller's decision function answers for each. Written here because no maintained library maps S3
 * REST requests to IAM actions.
 */

/**
 * S3's subresources (query parameters that select another operation on the bucket or object),
 * from its signing documentation; `versionId` and `partNumber` only qualify an operation.
 */
const SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
];

/** One authorization S3 makes for a request. */
export interface RequiredAccess {
  readonly action: string;
  /** The bucket or object ARN (`*` for an operation on no bucket). */
  readonly resource: string;
  readonly context: Readonly<Record<string, string>>;
}

export interface AccessControlOptions {
  readonly iam: TemplateIam;
  /** The live sessions of the template's roles (each local task's credentials). */
  readonly sessions: RoleSessions;
  /**
   * The local S3's own access key (your uploads, the emulator's reads): decided as an account
   * administrator's, so only an explicit deny of the bucket policy refuses it.
   */
  readonly unrestrictedAccessKeyId: string;
  readonly partition: string;
  /** The account the template is deployed in. */
  readonly accountId: string;
}

/**
 * Who signs with the local S3's own credentials: you (uploads) and the emulator, as an administrator
 * of the account would on AWS, whom only an explicit deny of a bucket policy refuses.
 */
function owner({ partition, accountId }: AccessControlOptions): Caller {
  return {
    principal: `arn:${partition}:iam::${accountId}:role/LocalS3Owner`,
    identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
  };
}

/**
 * Decides each request to the local S3 as S3 does on AWS: a request signed by a role session is
 * evaluated against that role's policies and the bucket policy from the template, an unsigned one as
 * anonymous; resolves to the AccessDenied message, or undefined when every authorization passes.
 * The local endpoint stands in for S3's HTTPS endpoint, so `aws:SecureTransport` is true.
 */
export function templateAccessControl(
  options: AccessControlOptions,
): (request: IncomingMessage) => Promise<string | undefined> {
  return async (request) => {
    const accessKeyId = accessKeyOf(request);
    const own = accessKeyId === options.unrestrictedAccessKeyId;
    const session = accessKeyId === undefined || own ? undefined : options.sessions.find(accessKeyId);
    // Any other key is refused by the server itself (InvalidAccessKeyId), as S3 refuses a key it never issued.
    if (accessKeyId !== undefined && !own && !session) return undefined;
    const caller: Caller = own
      ? owner(options)
      : session
        ? { role: session.roleLogicalId, session: session.sessionName }
        : { principal: ANONYMOUS };
    const user = session || own ? options.iam.principalOf(caller) : 'anonymous';
    const accesses = requiredAccesses(request, options.partition);
    if (own && typeof accesses === 'string') return undefined;
    if (typeof accesses === 'string') {
      return `User: ${user} is not authorized to perform ${accesses}: the local S3 does not know which IAM actions it needs, so it refuses it (local/s3/access-control.ts)`;
    }
    for (const { action, resource, context } of accesses) {
      const decision = await options.iam.decide(caller, action, resource, {
        ...context,
        'aws:SecureTransport': 'true',
      });
      // The owner's own requests are refused only by an explicit deny of the bucket policy.
      if (own ? decision === 'ExplicitlyDenied' : decision !== 'Allowed') {
        const why =
          decision === 'ExplicitlyDenied'
            ? 'with an explicit deny in a policy'
            : `because no policy allows the ${action} action`;
        return `User: ${user} is not authorized to perform: ${action} on resource: "${resource}" ${why}`;
      }
    }
    return undefined;
  };
}

/** The access key a request is signed with (Authorization header or presigned query); undefined when unsigned. */
export function accessKeyOf(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization ?? '';
  const v4 = /Credential=([^/,\s]+)\//.exec(authorization);
  if (v4) return v4[1];
  const v2 = /^AWS ([^:\s]+):/.exec(authorization);
  if (v2) return v2[1];
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
  return query.get('X-Amz-Credential')?.split('/')[0] ?? query.get('AWSAccessKeyId') ?? undefined;
}

/**
 * The authorizations S3 makes for a path-style request, or a string naming the operation when it
 * is not one this list knows (the caller refuses it rather than let it through unchecked).
 */
export function requiredAccesses(request: IncomingMessage, partition: string): RequiredAccess[] | string {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const [bucket, ...keyParts] = url.pathname.slice(1).split('/');
  const key = decodeURIComponent(keyParts.join('/'));
  const query = url.searchParams;
  const method = (request.method ?? 'GET').toUpperCase();
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const bucketArn = `arn:${partition}:s3:::${decodeURIComponent(bucket)}`;
  const objectArn = `${bucketArn}/${key}`;
  const versioned = (action: string) => (query.has('versionId') ? `${action}Version` : action);
  const encryption = Object.fromEntries(
    [
      ['s3:x-amz-server-side-encryption', header('x-amz-server-side-encryption')],
      [
        's3:x-amz-server-side-encryption-aws-kms-key-id',
        header('x-amz-server-side-encryption-aws-kms-key-id'),
      ],
    ].filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const access = (action: string, resource: string, context: Record<string, string> = {}) => ({
    action,
    resource,
    context,
  });
  const operation = `${method} ${url.pathname}${url.search}`;
  const subresources = SUBRESOURCES.filter((name) => query.has(name));
  const subresource = subresources.join('&');

  if (!bucket) return method === 'GET' ? [access('s3:ListAllMyBuckets', '*')] : operation;
  if (keyParts.length === 0 || key === '') {
    switch (`${method} ${subresource}`) {
      case 'GET ':
      case 'HEAD ':
        return [access('s3:ListBucket', bucketArn, { 's3:prefix': query.get('prefix') ?? '' })];
      case 'GET versions':
        return [access('s3:ListBucketVersions', bucketArn, { 's3:prefix': query.get('prefix') ?? '' })];
      case 'GET location':
        return [access('s3:GetBucketLocation', bucketArn)];
      case 'GET uploads':
        return [access('s3:ListBucketMultipartUploads', bucketArn)];
      case 'GET versioning':
        return [access('s3:GetBucketVersioning', bucketArn)];
      case 'GET policy':
        return [access('s3:GetBucketPolicy', bucketArn)];
      case 'PUT ':
        return [access('s3:CreateBucket', bucketArn)];
      case 'DELETE ':
        return [access('s3:DeleteBucket', bucketArn)];
      case 'POST delete':
        // The keys are in the request body, which is not read here: allowed only to a caller that
        // may delete every object of the bucket (stricter than S3, which decides key by key).
        return [access('s3:DeleteObject', `${bucketArn}/*`)];
      default:
        return operation;
    }
  }

  const copySource = header('x-amz-copy-source');
  const copyRead = () => {
    if (!copySource) return [];
    const source = new URL(`http://localhost/${copySource.replace(/^\//, '')}`);
    const action = source.searchParams.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject';
    return [access(action, `arn:${partition}:s3:::${decodeURIComponent(source.pathname.slice(1))}`)];
  };
  switch (`${method} ${subresource}`) {
    case 'GET ':
    case 'HEAD ':
      return [access(versioned('s3:GetObject'), objectArn)];
    case 'PUT ':
      return [access('s3:PutObject', objectArn, encryption), ...copyRead()];
    case 'POST uploads':
      return [access('s3:PutObject', objectArn, encryption)];
    case 'PUT uploadId':
      return [access('s3:PutObject', objectArn), ...copyRead()];
    case 'POST uploadId':
      return [access('s3:PutObject', objectArn)];
    case 'GET uploadId':
      return [access('s3:ListMultipartUploadParts', objectArn)];
    case 'DELETE uploadId':
      return [access('s3:AbortMultipartUpload', objectArn)];
    case 'DELETE ':
      return [access(versioned('s3:DeleteObject'), objectArn)];
    case 'GET tagging':
      return [access(versioned('s3:GetObjectTagging'), objectArn)];
    case 'PUT tagging':
      return [access(versioned('s3:PutObjectTagging'), objectArn)];
    case 'GET acl':
      return [access(versioned('s3:GetObjectAcl'), objectArn)];
    case 'PUT acl':
      return [access(versioned('s3:PutObjectAcl'), objectArn)];
    default:
      return operation;
  }
}

/** S3's 403 for a refused request, with the message AWS gives (who, what, on which resource, why). */
export function accessDeniedXml(message: string): string {
  const escaped = message.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>AccessDenied</Code><Message>${escaped}</Message><RequestId>LOCAL</RequestId></Error>`
  );
}
