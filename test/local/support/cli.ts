import { type CommandResult, runNpmScript } from '../../support/project-commands';

export type CliResult = CommandResult;

/** The CLI as a user runs it (`npm start -- ...`: package.json's script), as a child process. */
export function runCli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return runNpmScript('start', args, { ...process.env, ...env });
}

/** `npm start -- --json <args>` on a free port with its own data directory, on `templatePath`: one run, its summary on stdout. */
export function runCliOnce(
  templatePath: string,
  dataDir: string,
  args: readonly string[],
): Promise<CliResult> {
  return runCli(['--template', templatePath, '--port', '0', '--data-dir', dataDir, '--json', ...args]);
}
