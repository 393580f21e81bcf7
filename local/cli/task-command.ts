import { execFile } from 'node:child_process';

import { UsageError } from './args';

/**
 * A `--task-command` whose program does not exist would fail every task with exit code 127 (the
 * shell's "not found"), one object at a time; checked once, before anything runs, it is one line.
 * Only a plain first word is checked (`python3 worker.py`, `./run.sh`): a command that starts with
 * an assignment, a quote or an expansion is the shell's to read, and its 127 is named in the
 * execution's line instead (report.ts).
 */
export async function taskCommandFound(command: string): Promise<void> {
  const [program] = command.trim().split(/\s+/);
  if (!/^[\w./+-]+$/.test(program) || program.includes('=')) return;
  // `command -v` is how POSIX sh looks a name up: builtins, functions, then PATH (or the path given).
  const found = await new Promise<boolean>((resolve) => {
    execFile('/bin/sh', ['-c', 'command -v -- "$1"', 'sh', program], (error) => resolve(!error));
  });
  if (!found) {
    throw new UsageError(
      `--task-command ${JSON.stringify(command)}: command "${program}" not found on PATH; check its spelling, install it, or give its full path`,
    );
  }
}
