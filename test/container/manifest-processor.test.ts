import { createHash, randomBytes } from 'node:crypto';

import {
  type ContentSniffer,
  createManifestProcessor,
  looksLikeText,
  SNIFF_BYTES,
} from '../../container/src/manifest-processor';
import type { SourceObject } from '../../container/src/processor';

const source: SourceObject = { bucket: 'input-bucket', key: 'k' };
const context = { signal: new AbortController().signal };
// file-type is ESM-only and Jest runs CommonJS, so the real sniffer is covered by the bundle's
// integration tests; here a stub recognises one magic number and records what it was given.
const seenBySniffer: Uint8Array[] = [];
const stubSniffer: ContentSniffer = async (head) => {
  seenBySniffer.push(head);
  return Buffer.from(head.subarray(0, 4)).equals(Buffer.from('%PDF')) ? 'application/pdf' : undefined;
};
const manifest = createManifestProcessor(stubSniffer);

async function* chunked(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part;
}

const sha256 = (...parts: (string | Uint8Array)[]) =>
  createHash('sha256')
    .update(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))))
    .digest('hex');

beforeEach(() => (seenBySniffer.length = 0));

test('empty input: zero size, the empty digest, no lines, the stored type or octet-stream', async () => {
  expect(await manifest.process(chunked(), source, context)).toEqual({
    size: 0,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    contentType: 'application/octet-stream',
    lines: 0,
  });
  const labelled = await manifest.process(chunked(), { ...source, contentType: 'text/csv' }, context);
  expect(labelled.contentType).toBe('text/csv');
  expect(seenBySniffer).toHaveLength(0);
});

test('binary input: digest over all chunks, no line count, octet-stream when nothing better is known', async () => {
  const parts = [randomBytes(3000), Buffer.from([0, 10, 10, 0]), randomBytes(70_000)];
  const result = await manifest.process(
    chunked(...parts),
    { ...source, contentType: 'binary/octet-stream' },
    context,
  );
  expect(result).toEqual({
    size: 73_004,
    sha256: sha256(...parts),
    contentType: 'application/octet-stream',
    lines: null,
  });
});

test('sniffed type beats the stored one, and the sniffer sees exactly the first SNIFF_BYTES', async () => {
  const body = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(10_000)]);
  const result = await manifest.process(
    chunked(body.subarray(0, 5), body.subarray(5, 5000), body.subarray(5000)),
    { ...source, contentType: 'image/jpeg' },
    context,
  );
  expect(result.contentType).toBe('application/pdf');
  expect(result.sha256).toBe(sha256(body));
  expect(Buffer.from(seenBySniffer[0]).equals(body.subarray(0, SNIFF_BYTES))).toBe(true);
});

test.each([
  ['with a trailing newline', ['one\ntwo\n'], 2],
  ['without a trailing newline', ['one\ntwo'], 2],
  ['with blank lines', ['one\n\n\nfour\n'], 4],
  ['CRLF with a trailing newline', ['one\r\ntwo\r\n'], 2],
  ['CRLF without a trailing newline', ['one\r\n', 'two'], 2],
  ['a CRLF split across chunks', ['one\r', '\ntwo'], 2],
  ['one line, no newline', ['x'], 1],
])('text %s counts lines', async (_name, parts, lines) => {
  const result = await manifest.process(chunked(...parts), source, context);
  expect(result).toEqual({
    size: Buffer.byteLength(parts.join('')),
    sha256: sha256(...parts),
    contentType: 'text/plain; charset=utf-8',
    lines,
  });
});

test('a multi-byte UTF-8 character split across chunks is still text', async () => {
  const text = Buffer.from('naïve ☃ 日本\nzweite Zeile\n');
  const splits = [3, 4, 9, 10, 11, 14, 17]; // inside ï (2 bytes), ☃ (3 bytes) and 日 (3 bytes)
  const parts = [0, ...splits].map((start, i) => text.subarray(start, splits[i] ?? text.length));
  const result = await manifest.process(chunked(...parts), source, context);
  expect(result).toEqual({
    size: text.length,
    sha256: sha256(text),
    contentType: 'text/plain; charset=utf-8',
    lines: 2,
  });
});

test('a character cut by the end of the sniffed head does not make long text binary', async () => {
  const text = Buffer.from(`${'a'.repeat(SNIFF_BYTES - 1)}€ more\n${'line\n'.repeat(1000)}`);
  const result = await manifest.process(
    chunked(text.subarray(0, 4096), text.subarray(4096)),
    source,
    context,
  );
  expect(result.lines).toBe(1001);
  expect(result.contentType).toBe('text/plain; charset=utf-8');
});

test('invalid UTF-8 or NUL bytes mean binary; a specific stored type is kept', async () => {
  const latin1 = Buffer.from('caf\xe9\n', 'latin1');
  expect(await manifest.process(chunked(latin1), source, context)).toMatchObject({
    contentType: 'application/octet-stream',
    lines: null,
  });
  const labelled = await manifest.process(
    chunked('a\0b\n'),
    { ...source, contentType: 'application/x-custom' },
    context,
  );
  expect(labelled).toMatchObject({ contentType: 'application/x-custom', lines: null });
});

test('one-byte chunks give the same manifest as one chunk', async () => {
  const text = Buffer.from('line one\r\nline two\nünïcödé\n');
  const bytewise = [...text].map((b) => Uint8Array.of(b));
  expect(await manifest.process(chunked(...bytewise), source, context)).toEqual(
    await manifest.process(chunked(text), source, context),
  );
});

test('looksLikeText tolerates a cut character only when told the bytes are a prefix', () => {
  const cut = Buffer.from('ab€').subarray(0, 4);
  expect(looksLikeText(cut, true)).toBe(true);
  expect(looksLikeText(cut, false)).toBe(false);
});
