import { ConfigError, normalizeEtag, readConfig } from '../../container/src/config';

const base = { BUCKET: 'input-bucket', KEY: 'incoming/a b+c%2B=(1)日本.txt' };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    readConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

test('defaults: output to the input bucket under processed/, manifest processor, key untouched', () => {
  expect(readConfig(base)).toEqual({
    bucket: 'input-bucket',
    key: 'incoming/a b+c%2B=(1)日本.txt',
    etag: undefined,
    versionId: undefined,
    outputBucket: 'input-bucket',
    outputPrefix: 'processed/',
    processor: 'manifest',
  });
});

test('optional values are read, empty ones count as unset, and ETag quotes are dropped', () => {
  expect(
    readConfig({
      ...base,
      ETAG: '"abc123"',
      VERSION_ID: 'v1',
      OUTPUT_BUCKET: 'out.bucket',
      OUTPUT_PREFIX: '',
    }),
  ).toMatchObject({ etag: 'abc123', versionId: 'v1', outputBucket: 'out.bucket', outputPrefix: '' });
  expect(readConfig({ ...base, ETAG: '', VERSION_ID: '', OUTPUT_BUCKET: '' })).toMatchObject({
    etag: undefined,
    versionId: undefined,
    outputBucket: 'input-bucket',
  });
});

test.each([
  [{ KEY: 'k' }, 'BUCKET', /BUCKET is not set: .*set BUCKET to the bucket name/],
  [{ BUCKET: '', KEY: 'k' }, 'BUCKET', /BUCKET is empty/],
  [{ BUCKET: 'input-bucket' }, 'KEY', /KEY is not set: .*set KEY to the object key/],
  [{ ...base, BUCKET: 'Input_Bucket' }, 'BUCKET', /"Input_Bucket" is not a valid S3 bucket name/],
  [{ ...base, OUTPUT_BUCKET: 'a' }, 'OUTPUT_BUCKET', /not a valid S3 bucket name/],
  [{ ...base, OUTPUT_PREFIX: '' }, 'OUTPUT_PREFIX', /trigger the pipeline again/],
  [{ ...base, ETAG: '"a b"' }, 'ETAG', /is not an entity tag/],
  [{ ...base, KEY: 'k'.repeat(1015) }, 'KEY', /exceeds S3's 1024-byte key limit/],
])('%j is rejected, naming %s', (env, variable, message) => {
  const error = configError(env);
  expect(error.variable).toBe(variable);
  expect(error.message).toMatch(message);
});

test('normalizeEtag strips quotes and the weak prefix only', () => {
  expect(normalizeEtag('"abc"')).toBe('abc');
  expect(normalizeEtag('W/"abc-2"')).toBe('abc-2');
  expect(normalizeEtag('abc')).toBe('abc');
});
