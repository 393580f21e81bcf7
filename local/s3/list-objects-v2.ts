import type { IncomingMessage, ServerResponse } from 'node:http';

import { ListObjectsV2Output$ } from '@aws-sdk/client-s3';
import { XmlShapeSerializer } from '@aws-sdk/core/protocols';
import { NormalizedSchema } from '@smithy/core/schema';

import type { AtomicFilesystemStore, ListedObjects } from './atomic-store';
import { answerS3Error, S3Error } from './s3-errors';

/**
 * ListObjectsV2, served beside s3rver: s3rver 3.7 encrypts its continuation tokens with DES, which
 * the OpenSSL 3 of Node >= 17 lacks, so every truncated listing (`aws s3 ls` of more than 1,000 keys,
 * `--max-keys`, any paginator) failed with InternalError. It also counts only keys against
 * max-keys, and lists a common prefix again on the page after one ending inside it; S3 counts keys
 * and common prefixes alike, in key order, and never repeats one. It ignores encoding-type=url too.
 * This lists through s3rver's store and writes the answer with the SDK's own XML serializer from the
 * operation's output schema.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account') as {
  DUMMY_ACCOUNT: { id: number; displayName: string };
};

const OUTPUT = NormalizedSchema.of(ListObjectsV2Output$ as never);
/** S3 answers at most 1,000 entries a page, whatever max-keys asks (and echoes max-keys as asked). */
const PAGE_LIMIT = 1000;
/** Sorts after every character a key has but U+FFFF: starting after `prefix + LAST` skips the prefix. */
const LAST = '\uffff';

/** Whether `request` is a ListObjectsV2: GET /bucket?list-type=2 (path style: the endpoint rewrites virtual hosts). */
export function isListObjectsV2(request: IncomingMessage): boolean {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url ?? '/', 'http://local');
  return url.searchParams.get('list-type') === '2' && /^\/[^/]+\/?$/.test(url.pathname);
}

export async function listObjectsV2(
  store: AtomicFilesystemStore,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(request.url ?? '/', 'http://local');
    const bucket = decodeURIComponent(url.pathname.split('/')[1]);
    const query = url.searchParams;
    if (!(await store.getBucket(bucket))) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }
    const maxKeys = maxKeysOf(query.get('max-keys'));
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const token = query.get('continuation-token');
    const startAfter = query.get('start-after') ?? undefined;
    // A token names the last entry of its page: a key, or a common prefix whose keys it skips.
    const after = token !== null ? tokenEntry(token, bucket) : (startAfter ?? '');
    const page =
      maxKeys === 0 ? [] : await entriesAfter(store, bucket, { prefix, delimiter, after, maxKeys });
    const shown = page.slice(0, Math.min(maxKeys, PAGE_LIMIT));
    const truncated = shown.length < page.length;
    const fetchOwner = query.get('fetch-owner') === 'true';
    const encode = encoderFor(query.get('encoding-type'));
    const serializer = new XmlShapeSerializer({
      xmlNamespace: 'http://s3.amazonaws.com/doc/2006-03-01/',
      serviceNamespace: 'com.amazonaws.s3',
      timestampFormat: { useTrait: true, default: 5 /* date-time */ },
    });
    serializer.write(OUTPUT, {
      Name: bucket,
      Prefix: encode(prefix),
      Delimiter: delimiter ? encode(delimiter) : undefined,
      EncodingType: query.get('encoding-type') ?? undefined,
      MaxKeys: maxKeys,
      KeyCount: shown.length,
      IsTruncated: truncated,
      ContinuationToken: token ?? undefined,
      NextContinuationToken: truncated ? tokenOf(bucket, shown.at(-1)!.name) : undefined,
      StartAfter: startAfter === undefined ? undefined : encode(startAfter),
      Contents: shown.flatMap((entry) =>
        entry.object
          ? [
              {
                Key: encode(entry.name),
                LastModified: entry.object.lastModifiedDate,
                ETag: entry.object.metadata.etag,
                Size: entry.object.size,
                StorageClass: 'STANDARD',
                Owner: fetchOwner
                  ? { ID: String(DUMMY_ACCOUNT.id), DisplayName: DUMMY_ACCOUNT.displayName }
                  : undefined,
              },
            ]
          : [],
      ),
      CommonPrefixes: shown.filter((entry) => !entry.object).map((entry) => ({ Prefix: encode(entry.name) })),
    });
    response.writeHead(200, { 'Content-Type': 'application/xml' });
    response.end(`<?xml version="1.0" encoding="UTF-8"?>\n${String(serializer.flush())}`);
  } catch (error) {
    answerS3Error(response, 'ListObjectsV2', error);
  }
}

interface Entry {
  /** The key, or the common prefix. */
  readonly name: string;
  /** The object, for a key. */
  readonly object?: ListedObjects['objects'][number];
}

/**
 * The keys and common prefixes after `after`, in key order: the first `maxKeys` of them (capped at a
 * page), and one more when there are more. The grouping into common prefixes is done here: s3rver's
 * store prunes every directory below a delimiter while it walks, so it loses the prefix of a key two
 * or more levels down (`e/` of `e/x/1`). After a common prefix, the listing goes on past its keys.
 */
async function entriesAfter(
  store: AtomicFilesystemStore,
  bucket: string,
  options: { prefix: string; delimiter: string; after: string; maxKeys: number },
): Promise<Entry[]> {
  const { prefix, delimiter } = options;
  const wanted = Math.min(options.maxKeys, PAGE_LIMIT) + 1;
  const prefixOf = (key: string) => {
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    return at === -1 ? undefined : key.slice(0, at + delimiter.length);
  };
  const entries: Entry[] = [];
  // After a common prefix (a token's last entry may be one), none of its keys: they were its entry.
  let startAfter = prefixOf(options.after) === options.after ? options.after + LAST : options.after;
  for (;;) {
    // With a delimiter, a few keys at a time: after a common prefix the rest of the batch is skipped.
    const batch = delimiter ? Math.min(wanted - entries.length, 50) : wanted - entries.length;
    const listed = await store.listObjects(bucket, {
      prefix: prefix || undefined,
      startAfter: startAfter || undefined,
      maxKeys: batch,
    });
    for (const object of listed.objects) {
      const common = prefixOf(object.key);
      entries.push(common === undefined ? { name: object.key, object } : { name: common });
      if (entries.length === wanted) return entries;
      startAfter = common === undefined ? object.key : common + LAST;
      if (common !== undefined) break;
    }
    if (!listed.isTruncated && startAfter === listed.objects.at(-1)?.key) return entries;
    if (listed.objects.length === 0) return entries;
  }
}

/**
 * encoding-type=url: the keys, prefixes, delimiter and start-after of the answer URL-encoded, and
 * EncodingType echoed, as S3 answers (botocore, so the AWS CLI and boto3, asks for it and decodes what
 * comes back marked so; a caller that asks and decodes anyway misread a key's '+' or '%' sent as is);
 * none: as they are. Spaces become %20, which both '+'-aware and plain decoders read.
 */
function encoderFor(encodingType: string | null): (value: string) => string {
  if (encodingType === null) return (value) => value;
  if (encodingType !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: encodingType,
    });
  }
  return (value) => encodeURIComponent(value).replace(/%2F/g, '/');
}

function maxKeysOf(value: string | null): number {
  if (value === null) return PAGE_LIMIT;
  const maxKeys = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(maxKeys <= 2147483647)) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: value,
    });
  }
  return maxKeys;
}

/** An opaque token, as S3's: the bucket and the page's last entry. */
function tokenOf(bucket: string, last: string): string {
  return Buffer.from(JSON.stringify([bucket, last])).toString('base64');
}

function tokenEntry(token: string, bucket: string): string {
  let entry: unknown;
  try {
    const [tokenBucket, last] = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as unknown[];
    entry = tokenBucket === bucket ? last : undefined;
  } catch {
    entry = undefined;
  }
  if (typeof entry !== 'string') {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  return entry;
}
