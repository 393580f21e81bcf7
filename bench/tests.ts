import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';

import { PROJECT_ROOT } from '../shared/paths';
import { measureProcess } from './measure';
import type { BenchRow, BenchSection } from './table';

const TEST_TARGET_SECONDS = 180;
const INFRA_TARGET_SECONDS = 60;

/** What `jest --json` reports per test file (times in epoch milliseconds). */
interface JestReport {
  readonly testResults: readonly {
    readonly name: string;
    readonly startTime: number;
    readonly endTime: number;
  }[];
}

/**
 * `npm test` as package.json defines it, run one `&&` step at a time as npm would (node_modules/.bin on
 * PATH), so the table shows where its time goes. The jest step also writes its JSON report, which gives
 * each test folder's share without running jest twice.
 */
export async function benchTests(): Promise<BenchSection> {
  const { scripts } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const steps = scripts.test.split('&&').map((step) => step.trim());
  const env = {
    ...process.env,
    PATH: [join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
  };
  const dir = mkdtempSync(join(tmpdir(), 'bench-tests-'));
  const report = join(dir, 'jest.json');
  const loadAtStart = loadavg()[0];
  const wallMs = new Map<string, number>();
  let folders = new Map<string, number>();
  try {
    for (const step of steps) {
      const isJest = step.split(' ')[0] === 'jest';
      const command = isJest ? `${step} --json --outputFile=${report}` : step;
      const run = await measureProcess(command, [], { cwd: PROJECT_ROOT, env, shell: true });
      if (run.exitCode !== 0) {
        throw new Error(
          `npm test step \`${step}\` failed (exit ${run.exitCode}); fix it before timing the suite:\n` +
            (run.stdout + run.stderr).slice(-4000),
        );
      }
      wallMs.set(step, run.wallMs);
      if (isJest) folders = suiteTimeByFolder(JSON.parse(readFileSync(report, 'utf8')) as JestReport);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const totalMs = [...wallMs.values()].reduce((a, b) => a + b, 0);
  const step = (name: string) => wallMs.get(name) ?? 0;
  const infraMs = step('npm run lint') + step('npm run typecheck') + (folders.get('test/lib') ?? 0);
  const rows: BenchRow[] = [
    ...[...wallMs].map(([name, ms]) => ({ metric: `\`${name}\` wall`, value: seconds(ms) })),
    ...[...folders]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([folder, ms]) => ({ metric: `  of which ${folder}/ suites`, value: seconds(ms) })),
    {
      metric: '`npm test` wall (the steps above, in sequence)',
      value: seconds(totalMs),
      target: `< ${TEST_TARGET_SECONDS} s`,
      met: totalMs < TEST_TARGET_SECONDS * 1000,
    },
    {
      metric: 'infrastructure part (lint, typecheck, test/lib suites)',
      value: seconds(infraMs),
      target: `< ${INFRA_TARGET_SECONDS} s`,
      met: infraMs < INFRA_TARGET_SECONDS * 1000,
    },
  ];
  return {
    title: 'Test suite (npm test)',
    rows,
    notes: [
      `${cpus().length} CPUs; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} ` +
        'at the end: one run on a shared machine, so read it beside the load.',
      "jest runs with its default workers (one fewer than the CPUs); a folder's time is the sum of its suites' " +
        'run times from the JSON report, without jest start-up.',
    ],
  };
}

function suiteTimeByFolder(report: JestReport): Map<string, number> {
  const folders = new Map<string, number>();
  for (const { name, startTime, endTime } of report.testResults) {
    const folder = relative(PROJECT_ROOT, name).split('/').slice(0, 2).join('/');
    folders.set(folder, (folders.get(folder) ?? 0) + endTime - startTime);
  }
  return folders;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
