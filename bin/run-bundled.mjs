// `node bin/run-bundled.mjs <entry.ts> [args...]`: runs one of this repository's TypeScript entry
// points (npm start, npm run failures, redrive, simulate, ...) in this process, from an esbuild
// bundle of it kept under node_modules/.cache and built again when a file it was built from changed.
//
// Why not tsx, which these scripts used: through tsx each of a command's ~100 own modules goes through
// Node's resolution and tsx's loader hooks (on a second thread) on every run, ~1.3 s of CPU for
// `npm start -- --failures`; from one bundled file the same run takes ~0.6 s. tsx, esbuild-register
// and jiti all transform file by file; no maintained runner keeps a whole-program bundle, so this
// file does. cdk.json's `app` runs bin/app.ts through it too. The bundle is what tsx would
// run: esbuild transforms both, packages stay in node_modules, and type-checking stays in
// `npm run typecheck`.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 's3-fargate-pipeline', 'bundles');

const [entryArg, ...args] = process.argv.slice(2);
if (!entryArg) {
  console.error(
    'error: bin/run-bundled.mjs needs an entry point: node bin/run-bundled.mjs local/cli/main.ts [args]',
  );
  process.exit(2);
}
const entry = relative(ROOT, resolve(entryArg));
if (!existsSync(join(ROOT, entry))) {
  console.error(
    `error: bin/run-bundled.mjs: ${entryArg} does not exist: give a TypeScript entry point of this repository, e.g. local/cli/main.ts`,
  );
  process.exit(2);
}
const bundle = join(CACHE_DIR, `${entry.replace(/[/\\]/g, '__')}.js`);
const manifest = `${bundle}.inputs.json`;

if (!isFresh()) await rebuild();
// The entry sees the arguments as it would have under `node --import tsx <entry> ...`.
process.argv = [process.argv[0], resolve(ROOT, entry), ...args];
process.setSourceMapsEnabled(true);
createRequire(import.meta.url)(bundle);

/** The modification time of each file, by its path from the root; undefined for one that is gone. */
function modified(paths) {
  return Object.fromEntries(
    paths.map((path) => {
      try {
        return [path, statSync(join(ROOT, path)).mtimeMs];
      } catch {
        return [path, undefined];
      }
    }),
  );
}

/**
 * True when the bundle was built from the files as they are: each input (this file included) has
 * the modification time it had then. Equal, not older: a file put back with an older time (a copy
 * that keeps times) changed too.
 */
function isFresh() {
  let kept;
  try {
    kept = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return false;
  }
  const now = modified(Object.keys(kept.inputs));
  return Object.entries(kept.inputs).every(([path, time]) => now[path] === time);
}

async function rebuild() {
  const { build } = await import('esbuild');
  const startedAt = Date.now();
  let result;
  try {
    result = await build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      bundle: true,
      write: false,
      outfile: bundle,
      // Packages load from node_modules as usual, as under tsx.
      packages: 'external',
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // A crash's stack names the TypeScript file and line (the launcher turns source maps on).
      sourcemap: 'inline',
      metafile: true,
      logLevel: 'warning',
    });
  } catch {
    process.exit(1); // esbuild printed what it could not build, with file and line
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  // Written aside and renamed: another command starting meanwhile reads the old bundle or the new.
  const partial = `${bundle}.${process.pid}.tmp`;
  writeFileSync(partial, result.outputFiles[0].contents);
  renameSync(partial, bundle);
  const inputs = modified([
    ...Object.keys(result.metafile.inputs),
    relative(ROOT, fileURLToPath(import.meta.url)),
  ]);
  // A file changed while esbuild read it may be in the bundle either way: then this run uses the
  // bundle, and no manifest is kept, so the next run builds again.
  if (Object.values(inputs).some((time) => time === undefined || time >= startedAt)) return;
  writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify({ inputs }));
  renameSync(`${manifest}.${process.pid}.tmp`, manifest);
}
