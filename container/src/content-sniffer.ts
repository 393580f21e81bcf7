import type { ContentSniffer } from './manifest-processor';

/**
 * Magic-number sniffing by file-type, the maintained library for it (it earns its place as the second
 * runtime dependency: hundreds of formats for ~70 KB of bundle). It is ESM-only; esbuild bundles it into
 * the CommonJS worker, which is why only this module imports it. The dynamic import makes esbuild
 * evaluate it lazily, after the GET has been sent, instead of during start-up. `file-type/core` is the
 * environment-neutral entry: the worker only ever passes it a buffer, never a file path.
 */
export const sniffContentType: ContentSniffer = async (head) => {
  const { fileTypeFromBuffer } = await import('file-type/core');
  return (await fileTypeFromBuffer(head))?.mime;
};
