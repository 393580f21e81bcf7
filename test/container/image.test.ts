import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FileSystem, IgnoreMode } from 'aws-cdk-lib';

import { PROJECT_ROOT } from '../../shared/paths';

const CONTAINER = join(PROJECT_ROOT, 'container');
const dockerfile = readFileSync(join(CONTAINER, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
  .map((line) => line.trim().split(/\s+/)[0].toUpperCase());

test('the Dockerfile only copies the bundle: no RUN, a multi-arch Node LTS base, a non-root user', () => {
  expect(instructions).not.toContain('RUN');
  expect(dockerfile).toMatch(/^FROM node:(22|24)[.\d]*-(alpine|slim|bookworm-slim)[.\d]*$/m);
  expect(dockerfile).toMatch(/^COPY dist\/worker\.js \/app\/worker\.js$/m);
  expect(dockerfile).toMatch(/^USER node$/m);
  // No Node or V8 flags: the bench measures the worker's memory run exactly this way (see the Dockerfile).
  expect(dockerfile).toMatch(/^CMD \["node", "\/app\/worker\.js"\]$/m);
  expect(dockerfile).not.toMatch(/NODE_OPTIONS/);
});

test('the asset CDK stages holds only the Dockerfile, .dockerignore and the bundle', () => {
  // What DockerImageAsset does: .dockerignore's patterns, and never excluding the two Docker files.
  const patterns = readFileSync(join(CONTAINER, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
  const staged = mkdtempSync(join(tmpdir(), 'asset-'));
  try {
    FileSystem.copyDirectory(CONTAINER, staged, {
      ignoreMode: IgnoreMode.DOCKER,
      exclude: [...patterns, '!.dockerignore', '!Dockerfile'],
    });
    const files = readdirSync(staged, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(staged.length + 1))
      .sort();
    expect(files).toEqual(['.dockerignore', 'Dockerfile', 'dist/worker.js']);
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
});
