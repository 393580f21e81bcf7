/**
 * `npm run bench [-- synth worker local simulate tests tests-cold]`: measures the targets the issues
 * set and prints one table per section (also written to bench/out/results.md). Targets are shown
 * here, never asserted in timed tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { benchLocalPipeline } from './local-pipeline';
import { benchSimulate } from './simulate';
import { benchSynth } from './synth';
import { BenchSection, formatSection } from './table';
import { benchTests, benchTestsCold } from './tests';
import { benchWorker } from './worker';

const SECTIONS: Record<string, () => Promise<BenchSection>> = {
  synth: benchSynth,
  worker: benchWorker,
  local: benchLocalPipeline,
  simulate: benchSimulate,
  tests: benchTests,
  'tests-cold': benchTestsCold,
};

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(
      `error: unknown bench section ${unknown.join(', ')}; choose from ${Object.keys(SECTIONS).join(', ')}`,
    );
    process.exit(2);
  }
  const names = requested.length > 0 ? requested : Object.keys(SECTIONS);
  const out = [
    `# Benchmarks (${new Date().toISOString()}, node ${process.version}, ${process.platform}/${process.arch})`,
    '',
  ];
  for (const name of names) {
    const section = await SECTIONS[name]();
    const text = formatSection(section);
    console.log(text);
    out.push(text);
  }
  mkdirSync(join(__dirname, 'out'), { recursive: true });
  writeFileSync(join(__dirname, 'out', 'results.md'), out.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
