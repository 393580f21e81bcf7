import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { localS3Client, localS3Environment, startLocalS3Server } from '../local/s3/server';
import { WORKER_BUNDLE } from '../shared/paths';
import { putFile, writePseudoRandomFile } from '../shared/pseudo-random-file';
import { type NodeRuntime, readImageNodeMajor, workerRuntimes } from './image-node';
import { bestOf, measureProcess, runProcess } from './measure';
import type { BenchRow, BenchSection } from './table';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BUCKET = 'bench-bucket';
const RUNS = 2;
const SAMPLES = 7;

/**
 * Worker throughput, memory and cold start, each beside its target, on the image's Node and on this
 * machine's (which `npm start` uses); and the bundle size. Needs the bundle (`npm run build`), GNU time
 * and curl; uses ~2.2 GB of temporary disk, removed at the end.
 */
export async function benchWorker(): Promise<BenchSection> {
  const { runtimes, notes: runtimeNotes } = await workerRuntimes(await readImageNodeMajor());
  // Measured first, while this process is idle: the stub listener's timestamps depend on its event loop.
  const startups = new Map<NodeRuntime, { toFirstRequest: Spread; bareNode: Spread }>();
  for (const runtime of runtimes) {
    startups.set(runtime, {
      toFirstRequest: await timeToFirstRequest(runtime),
      bareNode: await bareNodeMs(runtime),
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'bench-worker-'));
  const s3 = await startLocalS3Server({ directory: join(dir, 's3'), buckets: [BUCKET] });
  const client = localS3Client(s3.endpoint);
  try {
    const objects = [
      { key: 'bench/64 MiB.bin', size: 64 * MiB },
      { key: 'bench/1 GiB.bin', size: GiB },
    ];
    const digests = new Map<string, string>();
    for (const { key, size } of objects) {
      const file = join(dir, 'object.bin');
      digests.set(key, await writePseudoRandomFile(file, size, key));
      await putFile(client, BUCKET, key, file);
      await rm(file);
    }

    const runWorker = async (runtime: NodeRuntime, key: string) => {
      const env = { PATH: process.env.PATH ?? '', ...localS3Environment(s3.endpoint), BUCKET, KEY: key };
      const run = await measureProcess(runtime.execPath, [WORKER_BUNDLE], { env });
      const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
        result?: { sha256?: string };
      };
      if (run.exitCode !== 0 || summary.result?.sha256 !== digests.get(key)) {
        throw new Error(`worker failed on ${key} (exit ${run.exitCode}): ${run.stdout}${run.stderr}`);
      }
      return run;
    };

    const bigKey = objects[1].key;
    const url = `${s3.endpoint}/${BUCKET}/${encodeURIComponent(bigKey).replace(/%2F/g, '/')}`;
    const curl = await bestOf(RUNS, async () => {
      const run = await measureProcess('curl', ['-sf', `'${url}'`, '|', 'sha256sum'], { shell: true });
      if (!run.stdout.startsWith(digests.get(bigKey) ?? '-'))
        throw new Error(`curl | sha256sum: ${run.stdout}`);
      return run;
    });
    const mibPerS = (wallMs: number) => GiB / MiB / (wallMs / 1000);
    const rss = (mib: number) => `${mib.toFixed(0)} MiB`;
    const ms = (spread: Spread) => `${spread.median.toFixed(0)} ms (min ${spread.min.toFixed(0)})`;
    const bundleMiB = statSync(WORKER_BUNDLE).size / MiB;

    const rows: BenchRow[] = [
      {
        metric: 'bundle size (container/dist/worker.js)',
        value: `${bundleMiB.toFixed(2)} MiB`,
        target: '< 2 MiB',
        met: bundleMiB < 2,
      },
      {
        metric: 'curl piped to sha256sum, 1 GiB (reference)',
        value: `${mibPerS(curl.wallMs).toFixed(0)} MiB/s`,
      },
    ];
    for (const runtime of runtimes) {
      const big = await bestOf(RUNS, () => runWorker(runtime, bigKey));
      const small = await bestOf(RUNS, () => runWorker(runtime, objects[0].key));
      const ratio = curl.wallMs / big.wallMs;
      const startup = startups.get(runtime)!;
      const on = `node ${runtime.version.split('.')[0].slice(1)}`;
      rows.push(
        {
          metric: `${on} (${runtime.role}): worker throughput, 1 GiB`,
          value: `${mibPerS(big.wallMs).toFixed(0)} MiB/s (${ratio.toFixed(2)}x curl)`,
          target: '>= 0.8x curl',
          met: ratio >= 0.8,
        },
        {
          metric: `${on}: worker peak RSS, 64 MiB object`,
          value: rss(small.peakRssMiB),
          target: '< 128 MiB',
          met: small.peakRssMiB < 128,
        },
        {
          metric: `${on}: worker peak RSS, 1 GiB object`,
          value: rss(big.peakRssMiB),
          target: '< 128 MiB',
          met: big.peakRssMiB < 128,
        },
        {
          metric: `${on}: RSS growth, 64 MiB -> 1 GiB`,
          value: rss(big.peakRssMiB - small.peakRssMiB),
          target: '~0 (flat)',
          met: big.peakRssMiB - small.peakRssMiB < 16,
        },
        {
          metric: `${on}: process start -> first S3 request (median of ${SAMPLES})`,
          value: ms(startup.toFirstRequest),
          target: '< 150 ms',
          met: startup.toFirstRequest.median < 150,
        },
        {
          metric: `${on}: bare \`node -e ""\` start to exit (reference)`,
          value: ms(startup.bareNode),
        },
      );
    }
    return {
      title: 'Worker (container/dist/worker.js)',
      rows,
      notes: [
        `${runtimes.map((r) => `${r.version} at ${r.execPath}`).join('; ')}, each running \`node worker.js\` ` +
          `as the Dockerfile CMD does (no flags). s3rver on loopback in the bench process ` +
          `(node ${process.version}); ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)} at the end.`,
        ...runtimeNotes,
        `Wall times include process start; best of ${RUNS} runs. curl fetches the same object anonymously from the same server.`,
        'Start -> first request: from spawning node to the first HTTP request reaching a stub S3 listener. ' +
          'Node itself takes the bare-node time of it.',
      ],
    };
  } finally {
    client.destroy();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Time from spawning the worker to its first request arriving at a stub S3 endpoint. Spawned directly,
 * not under GNU time, so that only node's own start is counted.
 */
async function timeToFirstRequest(runtime: NodeRuntime): Promise<Spread> {
  let firstRequest: (() => void) | undefined;
  const server = createServer((_request, response) => {
    firstRequest?.();
    response.writeHead(404, { 'content-type': 'application/xml' });
    response.end('<Error><Code>NoSuchKey</Code><Message>stub</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const samples: number[] = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      const env = { PATH: process.env.PATH ?? '', ...localS3Environment(endpoint), BUCKET, KEY: 'stub' };
      const started = performance.now();
      const arrived = new Promise<number>(
        (resolve) => (firstRequest = () => resolve(performance.now() - started)),
      );
      const { exitCode, stdout, stderr } = await runProcess(runtime.execPath, [WORKER_BUNDLE], { env });
      if (exitCode !== 0) throw new Error(`worker against the stub exited ${exitCode}: ${stdout}${stderr}`);
      samples.push(await arrived);
    }
  } finally {
    server.close();
  }
  return spread(samples);
}

async function bareNodeMs(runtime: NodeRuntime): Promise<Spread> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await runProcess(runtime.execPath, ['-e', '""'], { env: { PATH: process.env.PATH ?? '' } });
    samples.push(performance.now() - started);
  }
  return spread(samples);
}

interface Spread {
  readonly median: number;
  readonly min: number;
}

// Start-up times on a shared machine vary with its load: the minimum shows the cost without it.
function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0] };
}
