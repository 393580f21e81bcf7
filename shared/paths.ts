import { join, resolve } from 'node:path';

/** The repository root: cdk.json and node_modules are here. */
export const PROJECT_ROOT = resolve(__dirname, '..');

/** The worker as `npm run build` bundles it: what the image ships and what local tasks run. */
export const WORKER_BUNDLE = join(PROJECT_ROOT, 'container', 'dist', 'worker.js');
