import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../shared/paths';

/**
 * The commands the project's files say to run, as the file and arguments of a child process with Node
 * as this process's: so the tests start each one exactly as npm or the CDK CLI does.
 */

const SCRIPTS = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;
const CDK_APP = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { app: string }).app;

/**
 * What `npm run <name> -- <args>` runs: package.json's script, without npm's own start-up (~0.3 s
 * of CPU a run), e.g. `node bin/run-bundled.mjs bin/failures.ts <args>`.
 */
export function npmScript(name: string, args: readonly string[] = []): [string, string[]] {
  const script = SCRIPTS[name];
  if (script === undefined) throw new Error(`package.json has no script "${name}"`);
  // "start" is `exec node ...`: npm's shell hands the process over, so signals reach Node itself.
  return nodeCommand(`npm script "${name}"`, script.replace(/^exec /, ''), args);
}

/** What `cdk synth` runs for the app: cdk.json's `app`. */
export function cdkApp(): [string, string[]] {
  return nodeCommand("cdk.json's app", CDK_APP, []);
}

function nodeCommand(what: string, command: string, args: readonly string[]): [string, string[]] {
  const [node, ...commandArgs] = command.split(' ');
  if (node !== 'node') throw new Error(`${what} does not run node: ${command}`);
  return [process.execPath, [...commandArgs, ...args]];
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `npm run <name> -- <args>` as a child process in the project root, to its end: its exit code and
 * output (`env`: the whole environment, this process's by default).
 */
export async function runNpmScript(
  name: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(...npmScript(name, args), {
      cwd: PROJECT_ROOT,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as CommandResult;
    return { code, stdout, stderr };
  }
}
