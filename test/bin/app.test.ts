import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cdkApp } from '../support/project-commands';

const ROOT = join(__dirname, '..', '..');

/**
 * The app as `cdk synth` runs it: the real image asset from container/ (the template tests
 * inject a registry image instead) and the cdk-nag plugin, which fails synthesis on any
 * unacknowledged finding.
 */
describe('bin/app.ts', () => {
  let outdir: string;
  let result: ReturnType<typeof spawnSync>;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'app-synth-'));
    // GIVEN cdk.json's context, passed the way the CDK CLI passes it to the app
    const context = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context;
    // WHEN the app synthesizes
    result = spawnSync(...cdkApp(), {
      cwd: ROOT,
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      encoding: 'utf8',
    });
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('synthesizes with the image built from container/ and no unacknowledged cdk-nag finding', () => {
    // THEN it exits 0, and the validation report holds no failure
    expect(result.stderr).not.toContain('AwsSolutions-');
    expect(result.status).toBe(0);
    const assets = JSON.parse(readFileSync(join(outdir, 'S3FargatePipeline.assets.json'), 'utf8'));
    const images = Object.values(assets.dockerImages ?? {}) as { source: { directory: string } }[];
    expect(images).toHaveLength(1);
  });

  test('stages only the Dockerfile and the worker bundle into the image context', () => {
    const assets = JSON.parse(readFileSync(join(outdir, 'S3FargatePipeline.assets.json'), 'utf8'));
    const [image] = Object.values(assets.dockerImages) as {
      source: { directory: string; platform?: string };
    }[];
    const staged = spawnSync('find', ['.', '-type', 'f'], {
      cwd: join(outdir, image.source.directory),
      encoding: 'utf8',
    });
    expect(staged.stdout.trim().split('\n').sort()).toEqual([
      './.dockerignore',
      './Dockerfile',
      './dist/worker.js',
    ]);
    expect(image.source.platform).toBe('linux/arm64');
  });
});
