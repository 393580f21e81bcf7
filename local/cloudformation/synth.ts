import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../shared/paths';
import { STACK_NAME } from '../../shared/stack-name';

export interface SynthOptions {
  /** Cloud assembly directory; a separate one keeps the user's cdk.out untouched. */
  readonly outDir: string;
  /** `-c key=value` pairs. */
  readonly context?: Readonly<Record<string, string>>;
}

/** Thrown when `cdk synth` fails; the message carries the CLI's own explanation. */
export class SynthError extends Error {
  /**
   * @param configurationProblems - when the app refused its configuration (bin/app.ts prints
   * "Invalid configuration" and one "  - " line per problem): those lines, the user's to fix
   */
  constructor(
    message: string,
    readonly configurationProblems: readonly string[] = [],
  ) {
    super(message);
    this.name = 'SynthError';
  }
}

/**
 * Runs `cdk synth --quiet` (the project's CDK CLI) and returns the path of the stack's template.
 * cdk.json's `build` step runs first, so the worker bundle is rebuilt from the current sources too.
 */
export async function synthesize(options: SynthOptions): Promise<string> {
  const outDir = resolve(PROJECT_ROOT, options.outDir);
  const contextArgs = Object.entries(options.context ?? {}).flatMap(([key, value]) => [
    '-c',
    `${key}=${value}`,
  ]);
  const cdk = join(PROJECT_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
  try {
    await promisify(execFile)(process.execPath, [cdk, 'synth', '--quiet', '-o', outDir, ...contextArgs], {
      cwd: PROJECT_ROOT,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' },
    });
  } catch (error) {
    const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string };
    const output =
      `${stderr ?? ''}${stdout ?? ''}`
        .split('\n')
        .filter((line) => !line.startsWith('npm warn')) // npm's notes about its own config, not the app's
        .join('\n')
        .trim() || message;
    const lines = output.split('\n');
    const header = lines.findIndex((line) => line.startsWith('Invalid configuration'));
    const problems =
      header < 0
        ? []
        : lines
            .slice(header + 1)
            .filter((line) => line.startsWith('  - '))
            .map((line) => line.slice(4));
    throw new SynthError(`\`cdk synth\` failed; fix the app and retry:\n${output}`, problems);
  }
  const templates = readdirSync(outDir).filter((name) => name.endsWith('.template.json'));
  const file = templates.includes(`${STACK_NAME}.template.json`)
    ? `${STACK_NAME}.template.json`
    : templates[0];
  if (!file) throw new SynthError(`\`cdk synth\` wrote no template into ${outDir}`);
  return join(outDir, file);
}
