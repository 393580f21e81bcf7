import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository root: cdk.json and node_modules are here. The nearest folder above this module with
 * a cdk.json: the module sits in shared/, or in a bundle under node_modules/.cache (bin/run-bundled.mjs).
 */
export const PROJECT_ROOT = projectRoot(__dirname);

/** The worker as `npm run build` bundles it: what the image ships and what local tasks run. */
export const WORKER_BUNDLE = join(PROJECT_ROOT, 'container', 'dist', 'worker.js');

function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'cdk.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`No cdk.json in any folder above ${from}`);
  }
}
