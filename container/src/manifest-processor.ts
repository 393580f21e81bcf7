import { createHash } from 'node:crypto';

import type { Processor, SourceObject } from './processor';

/** Returns a MIME type recognised from the object's first bytes, or undefined if none is. */
export type ContentSniffer = (head: Uint8Array) => Promise<string | undefined>;

// A type alias, not an interface, so that it is assignable to ProcessorOutput's index signature.
export type Manifest = {
  readonly size: number;
  /** Lowercase hex SHA-256 of the whole object. */
  readonly sha256: string;
  readonly contentType: string;
  /** Newline-terminated lines plus an unterminated last one; null when the object is not text. */
  readonly lines: number | null;
};

/** How much of the start of the object is kept for sniffing: what file-type needs for the formats it knows. */
export const SNIFF_BYTES = 4100;

const NEWLINE = 0x0a;
const GENERIC_CONTENT_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);
const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
const BINARY_CONTENT_TYPE = 'application/octet-stream';

/**
 * The default processor: size, SHA-256, content type and line count in one pass over the stream, holding
 * only the first SNIFF_BYTES in memory. `sniff` is injected so this module stays free of the ESM-only
 * file-type package (see content-sniffer.ts) and can be unit-tested under Jest's CommonJS runtime.
 */
export function createManifestProcessor(sniff: ContentSniffer): Processor<Manifest> {
  return {
    name: 'manifest',
    async process(body, source) {
      const hash = createHash('sha256');
      const head = new Uint8Array(SNIFF_BYTES);
      let headLength = 0;
      let size = 0;
      let newlines = 0;
      let lastByte = -1;
      // Text is decided from the head, like git and file(1); after that, binary objects skip line counting.
      let isText: boolean | undefined;

      for await (const chunk of body) {
        if (chunk.length === 0) continue;
        hash.update(chunk);
        size += chunk.length;
        lastByte = chunk[chunk.length - 1];
        if (headLength < SNIFF_BYTES) {
          const part = chunk.subarray(0, SNIFF_BYTES - headLength);
          head.set(part, headLength);
          headLength += part.length;
          if (headLength === SNIFF_BYTES) isText = looksLikeText(head, true);
        }
        if (isText !== false) newlines += countNewlines(chunk);
      }
      // Decided on the whole object when it fits in the head, so a cut-off last character counts as binary.
      const text = size === headLength ? looksLikeText(head.subarray(0, headLength), false) : isText === true;

      const sniffed = size > 0 ? await sniff(head.subarray(0, headLength)) : undefined;
      return {
        size,
        sha256: hash.digest('hex'),
        contentType: chooseContentType(sniffed, source, text && size > 0),
        lines: text ? newlines + (size > 0 && lastByte !== NEWLINE ? 1 : 0) : null,
      };
    },
  };
}

/**
 * Valid UTF-8 with no NUL bytes. `truncated` means `bytes` is a prefix of a longer object, so a
 * multi-byte character cut at its end is not an error (TextDecoder's stream mode holds it back).
 */
export function looksLikeText(bytes: Uint8Array, truncated: boolean): boolean {
  if (bytes.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
    return true;
  } catch {
    return false;
  }
}

function countNewlines(chunk: Uint8Array): number {
  // A plain loop: V8 compiles it to a tight scan, and 0x0a never occurs inside a multi-byte UTF-8
  // character, so a character split across chunks cannot be miscounted. CRLF counts once, by its LF.
  let count = 0;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] === NEWLINE) count++;
  return count;
}

// Magic numbers beat labels (uploads are often mislabelled); a specific stored type beats a guess.
function chooseContentType(sniffed: string | undefined, source: SourceObject, isText: boolean): string {
  if (sniffed) return sniffed;
  const stored = source.contentType?.trim() ?? '';
  if (!GENERIC_CONTENT_TYPES.has(stored.toLowerCase())) return stored;
  return isText ? TEXT_CONTENT_TYPE : BINARY_CONTENT_TYPE;
}
