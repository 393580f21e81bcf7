import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  type ExecutionRecord,
  type LocalPipeline,
  type LocalPipelineOptions,
  startLocalPipeline,
} from '../../../local/pipeline';

// The SDK's Node-version notice would be printed once per test file; it says nothing about the tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A data directory and a dead-letter directory under one temporary root, for pipelines that outlive a restart. */
export interface TestDirectories {
  readonly dataDir: string;
  readonly deadLetterDir: string;
  remove(): void;
}

export function testDirectories(): TestDirectories {
  const root = mkdtempSync(join(tmpdir(), 'local-pipeline-test-'));
  return {
    dataDir: join(root, 's3'),
    deadLetterDir: join(root, 'dead-letters'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * A pipeline on a free port. Without `dataDir` it gets its own empty directories, which `stop()`
 * deletes; with `dataDir` (and `deadLetterDir`) the caller owns them, e.g. to restart on the same data.
 */
export async function startTestPipeline(
  templatePath: string,
  options: Partial<LocalPipelineOptions> = {},
): Promise<LocalPipeline> {
  const owned = options.dataDir ? undefined : testDirectories();
  const pipeline = await startLocalPipeline({
    templatePath,
    port: 0,
    deadLetterDir: owned?.deadLetterDir,
    ...options,
    dataDir: options.dataDir ?? owned!.dataDir,
  });
  return {
    ...pipeline,
    stop: async (stopOptions) => {
      await pipeline.stop(stopOptions);
      owned?.remove();
    },
  };
}

/** What a test started; `releasedAfterEach` stops and removes it after the test, passed or not. */
export interface TestResources {
  pipeline?: LocalPipeline;
  dirs?: TestDirectories;
}

/** Registers the afterEach that releases what each test assigns into the returned object. */
export function releasedAfterEach(): TestResources {
  const resources: TestResources = {};
  afterEach(async () => {
    await resources.pipeline?.stop({ drain: false });
    resources.dirs?.remove();
    resources.pipeline = undefined;
    resources.dirs = undefined;
  });
  return resources;
}

export function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The most tasks of `records` that were running at one moment, from the runner's launch times and
 * durations (a launch refused has none).
 */
export function mostTasksAtOnce(records: readonly ExecutionRecord[]): number {
  const edges = records
    .flatMap((record) => record.attempts)
    .filter((attempt) => attempt.taskArn !== undefined)
    .flatMap((attempt) => [
      { at: attempt.startedAt, change: 1 },
      { at: attempt.startedAt + attempt.durationMs, change: -1 },
    ])
    // At equal times the end comes first: a task that ends as another starts did not overlap it.
    .sort((a, b) => a.at - b.at || a.change - b.change);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.change;
    most = Math.max(most, running);
  }
  return most;
}
