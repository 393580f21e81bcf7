// Bundles the worker into container/dist/worker.js, the only file the image needs.
// Reproducible: paths are relative to the repo root, there are no timestamps, and the version comes
// from package.json, so the same sources give the same bytes (and the same CDK asset hash).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));

const outfile = join(root, 'container', 'dist', 'worker.js');
const result = await build({
  absWorkingDir: root,
  entryPoints: ['container/src/main.ts'],
  outfile,
  // Written here, not by esbuild: see below.
  write: false,
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

// esbuild writes its outfile in place (truncated, then written). `cdk synth` runs this build (cdk.json's
// "build") while local tasks may be starting `node container/dist/worker.js` (npm test runs both at
// once), and a task that started in between ran an empty file, which exits 0 having done nothing: an
// execution SUCCEEDED without a result. Written aside and renamed, the bundle a task starts is whole.
const [bundle] = result.outputFiles;
const partial = `${outfile}.${process.pid}.tmp`;
await mkdir(dirname(outfile), { recursive: true });
await writeFile(partial, bundle.contents);
await rename(partial, outfile);

const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`container/dist/worker.js: ${(bytes / 1024).toFixed(0)} KiB (worker ${version})`);
