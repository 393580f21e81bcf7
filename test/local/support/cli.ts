import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../../shared/paths';
import { npmScript } from '../../support/project-commands';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI as a user runs it (`npm start -- ...`: package.json's script), as a child process. */
export async function runCli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(...npmScript('start', args), {
      cwd: PROJECT_ROOT,
      env: env && { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** `npm start -- --json <args>` on a free port with its own data directory, on `templatePath`: one run, its summary on stdout. */
export function runCliOnce(
  templatePath: string,
  dataDir: string,
  args: readonly string[],
): Promise<CliResult> {
  return runCli(['--template', templatePath, '--port', '0', '--data-dir', dataDir, '--json', ...args]);
}
