import { PROJECT_ROOT } from '../shared/paths';
import { bestOf, measureProcess } from './measure';
import type { BenchSection, ProcessMeasurement } from './table';

/** The app command `cdk init` writes into cdk.json (less npx's --prefer-offline): ts-node with full type-checking. */
const TS_NODE_APP = 'npx ts-node bin/app.ts';

async function synth(app?: string): Promise<ProcessMeasurement> {
  const args = ['cdk', 'synth', '--quiet', '-o', 'bench/out/cdk.out', ...(app ? ['-a', app] : [])];
  const run = await measureProcess('npx', args, { cwd: PROJECT_ROOT });
  if (run.exitCode !== 0) throw new Error(`cdk synth ${app ?? ''} failed:\n${run.stderr}`);
  return run;
}

/**
 * `cdk synth` as cdk.json runs it (the app through bin/run-bundled.mjs: an esbuild bundle, kept while its
 * sources are unchanged, no type-check) beside the ts-node default.
 */
export async function benchSynth(): Promise<BenchSection> {
  await synth(); // warm the file cache, the worker build and the app's bundle so no run pays for them
  const ours = await bestOf(2, () => synth());
  const tsNode = await bestOf(2, () => synth(TS_NODE_APP));
  const ratio = ours.wallMs / tsNode.wallMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const mib = (m: ProcessMeasurement) => `${m.peakRssMiB.toFixed(0)} MiB`;
  return {
    title: 'Synth',
    rows: [
      { metric: 'cdk synth (cdk.json: bundled app) wall', value: s(ours.wallMs) },
      { metric: 'cdk synth (bundled app) peak RSS', value: mib(ours) },
      { metric: 'cdk synth (ts-node, type-checked) wall', value: s(tsNode.wallMs) },
      { metric: 'cdk synth (ts-node) peak RSS', value: mib(tsNode) },
      { metric: 'synth wall, ours / ts-node', value: ratio.toFixed(2), target: '<= 0.40', met: ratio <= 0.4 },
    ],
    notes: [
      'Each synth includes the worker build (cdk.json "build") and the cdk-nag checks, not aws-cdk-lib\'s built-in CloudFormation validation (off in bin/app.ts, run by npm test instead); best of two runs each, written to bench/out/cdk.out.',
      'Peak RSS is the largest process of the run (GNU time), i.e. the app process, not the CLI.',
    ],
  };
}
