import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { synthesize } from '../../../local/cloudformation/synth';
import type { CfnTemplate } from '../../../local/cloudformation/template';
import { PROJECT_ROOT, WORKER_BUNDLE } from '../../../shared/paths';
import { STACK_NAME } from '../../../shared/stack-name';
import { withCacheLock } from '../../support/cache-lock';

/** Every source `cdk synth` reads: a change to any of it means a new template. */
const SYNTH_INPUTS = [
  'bin',
  'lib',
  'shared',
  'container/src',
  'container/build.mjs',
  'container/Dockerfile',
  'cdk.json',
];
/** The installed packages that shape the template (the CLI too: it writes the assembly). */
const SYNTH_PACKAGES = ['aws-cdk-lib', 'cdk-nag', 'constructs', 'aws-cdk'];
const CACHE_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 's3-fargate-pipeline-tests', 'cdk-synth');

/**
 * The template `cdk synth -c <context>` produces from the current sources, synthesized once and
 * cached under node_modules/.cache/s3-fargate-pipeline-tests/cdk-synth/<hash of sources, installed
 * CDK versions and context> (cdk synth takes ~5 s; the local tests need it in several files). The
 * synth also rebuilds container/dist/worker.js.
 */
export async function synthesizedTemplate(context: Record<string, string> = {}): Promise<string> {
  const { dir, template } = cacheEntry(context);
  if (existsSync(template) && existsSync(WORKER_BUNDLE)) return template;
  mkdirSync(CACHE_DIR, { recursive: true });
  // One jest worker synthesizes; another that needs the same entry meanwhile waits for it.
  return withCacheLock(dir, async () => {
    if (existsSync(template) && existsSync(WORKER_BUNDLE)) return template;
    // Synthesized beside the cache entry and renamed in place, so no reader sees half a template.
    const staging = `${dir}.${process.pid}.tmp`;
    try {
      await synthesize({ outDir: staging, context });
      rmSync(dir, { recursive: true, force: true });
      renameSync(staging, dir);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return template;
  });
}

/**
 * The template at `templatePath` as `edit` makes it (in place, or the template it returns), written
 * as `<name>.template.json` beside `dataDir`, a test's data directory: a case the stack cannot
 * synthesize. Returns its path.
 */
export function editedTemplate<T = CfnTemplate>(
  templatePath: string,
  dataDir: string,
  name: string,
  edit: (template: T) => T | void,
): string {
  const template = JSON.parse(readFileSync(templatePath, 'utf8')) as T;
  const path = join(dirname(dataDir), `${name}.template.json`);
  writeFileSync(path, JSON.stringify(edit(template) ?? template));
  return path;
}

/** Where the template for `context` and the current sources is cached. */
export function cacheEntry(context: Record<string, string>): { dir: string; template: string } {
  const hash = createHash('sha256').update(JSON.stringify(context));
  hash.update(JSON.stringify(installedVersions()));
  for (const file of SYNTH_INPUTS.flatMap((input) => filesUnder(join(PROJECT_ROOT, input))).sort()) {
    hash.update(relative(PROJECT_ROOT, file)).update(readFileSync(file));
  }
  const dir = join(CACHE_DIR, hash.digest('hex').slice(0, 16));
  return { dir, template: join(dir, `${STACK_NAME}.template.json`) };
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** `{ name: version }` of SYNTH_PACKAGES as installed in node_modules (not as package.json asks). */
function installedVersions(): Record<string, string> {
  return Object.fromEntries(
    SYNTH_PACKAGES.map((name) => {
      const manifest = join(PROJECT_ROOT, 'node_modules', name, 'package.json');
      return [name, (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version];
    }),
  );
}
