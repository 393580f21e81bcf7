import { sniffContentType } from './content-sniffer';
import { createManifestProcessor } from './manifest-processor';
import type { Processor } from './processor';

/**
 * The processors PROCESSOR can select, by name. Add yours here; factories keep unused ones from doing
 * any set-up work.
 */
export const processors: Readonly<Record<string, () => Processor>> = {
  manifest: () => createManifestProcessor(sniffContentType),
};
