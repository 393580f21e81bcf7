import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { delimiter, join, relative } from 'node:path';

import { PROJECT_ROOT } from '../shared/paths';
import { measureProcess } from './measure';
import type { BenchRow, BenchSection, ProcessMeasurement } from './table';

const TEST_TARGET_SECONDS = 180;
const INFRA_TARGET_SECONDS = 60;
/** Kept after the run, beside results.md, for a closer look at slow suites. */
const JEST_REPORT = join(PROJECT_ROOT, 'bench', 'out', 'jest-report.json');

/** What `jest --json` reports per test file (times in epoch milliseconds). */
interface JestReport {
  readonly testResults: readonly {
    readonly name: string;
    readonly startTime: number;
    readonly endTime: number;
  }[];
}

/**
 * Where `npm test` keeps what its next run reuses: the lint, type-check and bundle caches, the
 * synthesized templates and the remembered validations all live under node_modules/.cache (so
 * `npm ci` starts them afresh, as on a fresh clone); jest keeps its transforms in its own directory.
 */
const TEST_CACHES = join(PROJECT_ROOT, 'node_modules', '.cache');

/** `npm test` as a second run finds it: every cache filled by an earlier run. */
export const benchTests = () => benchTestRun('warm');

/**
 * `npm test` as a fresh clone runs it after `npm ci` (CI's case): node_modules/.cache emptied and
 * jest's cache cleared first. The caches are full again afterwards.
 */
export const benchTestsCold = () => benchTestRun('cold');

/**
 * `npm test` as package.json defines it, run one `&&` step at a time as npm would (node_modules/.bin on
 * PATH), so the table shows where its time goes. The jest step also writes its JSON report, which gives
 * each test folder's share without running jest twice. CPU time is shown beside wall time: on a shared
 * machine the wall time grows with the other load, the CPU time much less.
 */
async function benchTestRun(caches: 'warm' | 'cold'): Promise<BenchSection> {
  const { scripts } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const steps = scripts.test.split('&&').map((step) => step.trim());
  const env = {
    ...process.env,
    PATH: [join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
  };
  mkdirSync(join(PROJECT_ROOT, 'bench', 'out'), { recursive: true });
  if (caches === 'cold') {
    rmSync(TEST_CACHES, { recursive: true, force: true });
    const cleared = await measureProcess('jest --clearCache', [], { cwd: PROJECT_ROOT, env, shell: true });
    if (cleared.exitCode !== 0) throw new Error(`jest --clearCache exited ${cleared.exitCode}`);
  }
  const loadAtStart = loadavg()[0];
  const runs = new Map<string, ProcessMeasurement>();
  let folders = new Map<string, number>();
  for (const step of steps) {
    const isJest = step.split(' ')[0] === 'jest';
    const command = isJest ? `${step} --json --outputFile=${JEST_REPORT}` : step;
    if (isJest) rmSync(JEST_REPORT, { force: true });
    const run = await measureProcess(command, [], { cwd: PROJECT_ROOT, env, shell: true });
    runs.set(step, run);
    if (isJest && existsSync(JEST_REPORT)) {
      folders = suiteTimeByFolder(JSON.parse(readFileSync(JEST_REPORT, 'utf8')) as JestReport);
    }
    if (run.exitCode !== 0) break; // as npm test stops
  }

  const sum = (pick: (run: ProcessMeasurement) => number) =>
    [...runs.values()].reduce((total, run) => total + pick(run), 0);
  const totalMs = sum((run) => run.wallMs);
  const failed = [...runs].filter(([, run]) => run.exitCode !== 0).map(([step]) => step);
  // The step that lints and type-checks (one `run-p` step running both at once), whatever its form.
  const lintAndTypecheckMs = [...runs]
    .filter(([step]) => /\b(lint|typecheck)\b/.test(step))
    .reduce((total, [, run]) => total + run.wallMs, 0);
  const infraMs = lintAndTypecheckMs + (folders.get('test/lib') ?? 0);
  const rows: BenchRow[] = [
    ...[...runs].map(([step, run]) => ({
      metric: `\`${step}\` wall (CPU)`,
      value: `${seconds(run.wallMs)} (${seconds(run.cpuMs)})${run.exitCode === 0 ? '' : `, exit ${run.exitCode}`}`,
    })),
    ...[...folders]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([folder, ms]) => ({ metric: `  of which ${folder}/ suites`, value: seconds(ms) })),
    {
      metric: '`npm test` wall (CPU), the steps above in sequence',
      value: `${seconds(totalMs)} (${seconds(sum((run) => run.cpuMs))})`,
      target: `< ${TEST_TARGET_SECONDS} s, passing`,
      met: totalMs < TEST_TARGET_SECONDS * 1000 && failed.length === 0,
    },
    {
      metric: 'infrastructure part (lint, typecheck, test/lib suites) wall',
      value: seconds(infraMs),
      target: `< ${INFRA_TARGET_SECONDS} s`,
      met: infraMs < INFRA_TARGET_SECONDS * 1000,
    },
  ];
  return {
    title:
      caches === 'warm'
        ? 'Test suite (npm test), a second run: its caches filled'
        : "Test suite (npm test), a first run: node_modules/.cache and jest's cache empty, as after `npm ci` on a fresh clone",
    rows,
    notes: [
      `${cpus().length} CPUs; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} ` +
        'at the end: one run on a shared machine, so read the wall times beside the load.',
      "jest runs two suites at once (jest.config.js `maxWorkers`); a folder's time is the sum of its suites' " +
        `run times from jest's JSON report (${relative(PROJECT_ROOT, JEST_REPORT)}), without jest's start-up.`,
      ...(failed.length > 0 ? [`Failed: \`${failed.join('`, `')}\`; see the step's output.`] : []),
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
