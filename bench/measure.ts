import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ProcessMeasurement } from './table';

export interface MeasureOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run through a shell (for pipelines such as `curl ... | sha256sum`). */
  readonly shell?: boolean;
}

/**
 * Runs a command under GNU time, which reports the peak RSS (max resident set size)
 * of the process from the kernel's rusage: more exact than polling /proc.
 * For a shell pipeline it reports the largest process in it. Its CPU time counts the
 * process and every child it waited for.
 */
export async function measureProcess(
  command: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<ProcessMeasurement> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const timeFile = join(dir, 'time.txt');
  const argv = options.shell ? ['sh', '-c', [command, ...args].join(' ')] : [command, ...args];
  const started = process.hrtime.bigint();
  const { exitCode, stdout, stderr } = await runProcess(
    '/usr/bin/time',
    ['-f', '%M %U %S', '-o', timeFile, ...argv],
    {
      cwd: options.cwd,
      env: options.env ?? process.env,
    },
  );
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const [maxRssKiB, userSeconds, systemSeconds] = (
    readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? ''
  )
    .split(' ')
    .map(Number);
  rmSync(dir, { recursive: true, force: true });
  return {
    wallMs,
    cpuMs: (userSeconds + systemSeconds) * 1000,
    peakRssMiB: maxRssKiB / 1024,
    exitCode,
    stdout,
    stderr,
  };
}

/** Runs a command to its end, collecting its output. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

/**
 * The fastest of `runs` measurements. The machine is shared: the minimum is the least noisy
 * estimate of what the measured thing itself costs.
 */
export async function bestOf<T extends { wallMs: number }>(
  runs: number,
  measure: () => Promise<T>,
): Promise<T> {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) results.push(await measure());
  return results.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
}
