// Bundles the worker into container/dist/worker.js, the only file the image needs.
// Reproducible: paths are relative to the repo root, there are no timestamps, and the version comes
// from package.json, so the same sources give the same bytes (and the same CDK asset hash).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));

const result = await build({
  absWorkingDir: root,
  entryPoints: ['container/src/main.ts'],
  outfile: 'container/dist/worker.js',
  bundle: true,
  platform: 'node',
  // node20 is the oldest runtime the bundle meets (the test machine); the image runs a newer LTS.
  target: 'node20',
  format: 'cjs',
  // The AWS SDK's ES module builds tree-shake; its CommonJS ones (esbuild's default pick on
  // platform node) do not. The smaller bundle starts ~40 ms sooner (bench/worker.ts).
  mainFields: ['module', 'main'],
  minify: true,
  define: { __WORKER_VERSION__: JSON.stringify(version) },
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`container/dist/worker.js: ${(bytes / 1024).toFixed(0)} KiB (worker ${version})`);
