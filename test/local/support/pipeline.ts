import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type LocalPipeline, type LocalPipelineOptions, startLocalPipeline } from '../../../local/pipeline';

// The SDK's Node-version notice would be printed once per test file; it says nothing about the tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A pipeline on a free port with its own empty data directory; `stop()` also deletes the directory. */
export async function startTestPipeline(
  templatePath: string,
  options: Partial<LocalPipelineOptions> = {},
): Promise<LocalPipeline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-pipeline-test-'));
  const pipeline = await startLocalPipeline({ templatePath, dataDir, port: 0, ...options });
  return {
    ...pipeline,
    stop: async (stopOptions) => {
      await pipeline.stop(stopOptions);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
