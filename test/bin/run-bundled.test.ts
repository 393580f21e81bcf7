import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { PROJECT_ROOT } from '../../shared/paths';

/**
 * bin/run-bundled.mjs, which every npm script and cdk.json's app run TypeScript through: an entry
 * point in this repository (its own bundle under node_modules/.cache, removed afterwards) that
 * imports a second module, run as a child process.
 */

const LAUNCHER = join(PROJECT_ROOT, 'bin', 'run-bundled.mjs');
const BUNDLES = join(PROJECT_ROOT, 'node_modules', '.cache', 's3-fargate-pipeline', 'bundles');
const dir = join(PROJECT_ROOT, 'node_modules', '.cache', 's3-fargate-pipeline-tests', 'run-bundled');
const entry = join(dir, 'entry.ts');
const dependency = join(dir, 'greeting.ts');
const bundlePrefix = relative(PROJECT_ROOT, entry).replace(/\//g, '__');

beforeEach(() => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    entry,
    `import { greeting } from './greeting';
     const code: number = Number(process.argv[2] ?? 0);
     console.log(JSON.stringify({ greeting, args: process.argv.slice(2), script: process.argv[1] }));
     process.exitCode = code;`,
  );
  writeFileSync(dependency, `export const greeting: string = 'hello';`);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const file of readdirSync(BUNDLES).filter((f) => f.startsWith(bundlePrefix))) {
    rmSync(join(BUNDLES, file), { force: true });
  }
});

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [LAUNCHER, ...args], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('runs the entry with its arguments and exit code, as node would run its source', () => {
  const { code, stdout } = run(relative(PROJECT_ROOT, entry), '3', '--json');
  expect(JSON.parse(stdout)).toEqual({ greeting: 'hello', args: ['3', '--json'], script: entry });
  expect(code).toBe(3);
});

test('builds again when a file the bundle came from changed, even to an older time', () => {
  expect(JSON.parse(run(relative(PROJECT_ROOT, entry)).stdout).greeting).toBe('hello');
  const bundle = join(BUNDLES, `${bundlePrefix}.js`);
  const builtAt = statSync(bundle).mtimeMs;

  // unchanged: the same bundle runs
  expect(JSON.parse(run(relative(PROJECT_ROOT, entry)).stdout).greeting).toBe('hello');
  expect(statSync(bundle).mtimeMs).toBe(builtAt);

  // a dependency put back with an older time (as a copy that keeps times would)
  writeFileSync(dependency, `export const greeting: string = 'changed';`);
  const yesterday = new Date(Date.now() - 86_400_000);
  utimesSync(dependency, yesterday, yesterday);
  expect(JSON.parse(run(relative(PROJECT_ROOT, entry)).stdout).greeting).toBe('changed');
});

test('an entry that does not exist: one line naming it and the fix, exit 2', () => {
  const { code, stdout, stderr } = run('no/such/entry.ts');
  expect(stderr.trim().split('\n')).toEqual([
    'error: bin/run-bundled.mjs: no/such/entry.ts does not exist: give a TypeScript entry point of this repository, e.g. local/cli/main.ts',
  ]);
  expect(stdout).toBe('');
  expect(code).toBe(2);
});

test('an entry that does not compile: esbuild names the file and line, exit 1, nothing run', () => {
  writeFileSync(dependency, `export const greeting: string = ;`);
  const { code, stdout, stderr } = run(relative(PROJECT_ROOT, entry));
  expect(stderr).toContain('[ERROR] Unexpected ";"');
  expect(stderr).toContain(`${relative(PROJECT_ROOT, dependency)}:1:`);
  expect(stdout).toBe('');
  expect(code).toBe(1);
});
