/** The worker's input, read once from the environment the Fargate task (or local runner) sets. */
export interface WorkerConfig {
  readonly bucket: string;
  /** Used exactly as given: EventBridge delivers keys unencoded, so decoding would corrupt `%2B` or `+`. */
  readonly key: string;
  /** Without quotes; when set, the read fails as "superseded" if the object no longer has this ETag. */
  readonly etag?: string;
  readonly versionId?: string;
  readonly outputBucket: string;
  readonly outputPrefix: string;
  readonly processor: string;
}

const DEFAULT_OUTPUT_PREFIX = 'processed/';
const DEFAULT_PROCESSOR = 'manifest';
const RESULT_SUFFIX = '.json';
const MAX_KEY_BYTES = 1024;

/** Bad or missing input: the task definition or the state machine must change, so a retry cannot help. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

// The rules S3 enforces for new buckets; checking them here turns a late, vague SDK error into a clear one.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function readConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const bucket = bucketName('BUCKET', required(env, 'BUCKET', 'set BUCKET to the bucket name'));
  const key = required(env, 'KEY', 'set KEY to the object key, exactly as it appears in the S3 event');
  const outputBucket = bucketName('OUTPUT_BUCKET', optional(env, 'OUTPUT_BUCKET') ?? bucket);
  // An empty OUTPUT_PREFIX is allowed (it is a prefix, not a name), so only unset means "use the default".
  const outputPrefix = env.OUTPUT_PREFIX ?? DEFAULT_OUTPUT_PREFIX;
  if (outputPrefix === '' && outputBucket === bucket) {
    throw new ConfigError(
      'OUTPUT_PREFIX',
      'OUTPUT_PREFIX is empty while OUTPUT_BUCKET is the input bucket: results would land beside the inputs ' +
        'and trigger the pipeline again; set OUTPUT_PREFIX (default "processed/") or a separate OUTPUT_BUCKET',
    );
  }
  if (Buffer.byteLength(resultKeyFor(outputPrefix, key)) > MAX_KEY_BYTES) {
    throw new ConfigError(
      'KEY',
      `KEY is too long: OUTPUT_PREFIX + KEY + "${RESULT_SUFFIX}" exceeds S3's ${MAX_KEY_BYTES}-byte key limit; ` +
        'shorten OUTPUT_PREFIX or the object key',
    );
  }
  return {
    bucket,
    key,
    etag: optionalEtag(env),
    versionId: optional(env, 'VERSION_ID'),
    outputBucket,
    outputPrefix,
    processor: optional(env, 'PROCESSOR') ?? DEFAULT_PROCESSOR,
  };
}

export function resultKeyFor(outputPrefix: string, key: string): string {
  return outputPrefix + key + RESULT_SUFFIX;
}

/** S3 returns ETags in quotes (and EventBridge without): compare and store them bare. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function required(env: NodeJS.ProcessEnv, name: string, fix: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(
      name,
      `${name} is ${value === undefined ? 'not set' : 'empty'}: the task must be started with BUCKET and KEY ` +
        `overrides; ${fix}`,
    );
  }
  return value;
}

// Step Functions and shells often pass absent optional values as "", which means "not given" here.
function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function optionalEtag(env: NodeJS.ProcessEnv): string | undefined {
  const raw = optional(env, 'ETAG');
  if (raw === undefined) return undefined;
  const etag = normalizeEtag(raw);
  if (etag === '' || /["\s]/.test(etag)) {
    throw new ConfigError(
      'ETAG',
      `ETAG ${JSON.stringify(raw)} is not an entity tag: pass the object's ETag from the S3 event ` +
        '(detail.object.etag), with or without quotes, or leave ETAG unset',
    );
  }
  return etag;
}

function bucketName(name: string, value: string): string {
  if (!BUCKET_NAME.test(value) || value.includes('..')) {
    throw new ConfigError(
      name,
      `${name} ${JSON.stringify(value)} is not a valid S3 bucket name: use 3-63 lowercase letters, digits, ` +
        'dots or hyphens, starting and ending with a letter or digit',
    );
  }
  return value;
}
