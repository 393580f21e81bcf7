import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import S3rver from 's3rver';

import { DEFAULT_CONFIG } from '../lib/config';
import { localS3Client, localS3Environment, startLocalS3Server } from '../local/s3/server';
import { WORKER_BUNDLE } from '../shared/paths';
import { putFile, writePseudoRandomFile } from '../shared/pseudo-random-file';
import { type NodeRuntime, readImageNodeMajor, workerRuntimes } from './image-node';
import { bestOf, measureProcess, runProcess } from './measure';
import type { BenchRow, BenchSection, ProcessMeasurement } from './table';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const BUCKET = 'bench-bucket';
const RUNS = 2;
const SAMPLES = 7;

/** From the smallest object the issue names to the largest; throughput is measured on the middle one. */
const OBJECTS = [
  { label: '64 MiB', key: 'bench/64 MiB.bin', size: 64 * MiB },
  { label: '1 GiB', key: 'bench/1 GiB.bin', size: GiB },
  { label: '4 GiB', key: 'bench/4 GiB.bin', size: 4 * GiB },
] as const;
const [SMALL, MIDDLE, LARGE] = OBJECTS;

/** Peak RSS may take 40% of the task's memory; the rest is headroom for a processor's own state. */
const RSS_BUDGET_MiB = 0.4 * DEFAULT_CONFIG.memoryMiB;
/**
 * Flat: the peak of the largest object within this of the middle one's. Both are far past the 64 MiB
 * of garbage at which V8 starts its first full collection, so any growth between them is memory that
 * grows with the bytes read.
 */
const FLAT_TOLERANCE_MiB = 16;

/**
 * Worker throughput, memory and cold start, each beside its target, on the image's Node and on this
 * machine's (which `npm start` uses); and the bundle size. Memory is measured over plain HTTP (the local
 * S3 server) on both, and over HTTPS (as on AWS) on the image's Node. Needs the bundle (`npm run build`),
 * GNU time and curl, and openssl for the HTTPS rows; uses about 9 GiB of temporary disk, removed at
 * the end.
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
  const directory = join(dir, 's3');
  const s3 = await startLocalS3Server({ directory, buckets: [BUCKET] });
  const client = localS3Client(s3.endpoint);
  let https: HttpsServer | undefined;
  try {
    await assertFreeDisk(dir, OBJECTS.reduce((sum, { size }) => sum + size, 0) + LARGE.size);
    const digests = new Map<string, string>();
    for (const { key, size } of OBJECTS) {
      const file = join(dir, 'object.bin');
      digests.set(key, await writePseudoRandomFile(file, size, key));
      await putFile(client, BUCKET, key, file);
      await rm(file);
    }
    const tls = await startHttpsServer(dir, directory);
    if ('server' in tls) https = tls;

    const runWorker = async (runtime: NodeRuntime, key: string, endpoint: Record<string, string> = {}) => {
      const env = {
        PATH: process.env.PATH ?? '',
        ...localS3Environment(s3.endpoint),
        ...endpoint,
        BUCKET,
        KEY: key,
      };
      const run = await measureProcess(runtime.execPath, [WORKER_BUNDLE], { env });
      const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
        result?: { sha256?: string };
      };
      if (run.exitCode !== 0 || summary.result?.sha256 !== digests.get(key)) {
        throw new Error(`worker failed on ${key} (exit ${run.exitCode}): ${run.stdout}${run.stderr}`);
      }
      return run;
    };
    const peakRss = async (runtime: NodeRuntime, endpoint?: Record<string, string>) => {
      const peaks = new Map<string, ProcessMeasurement>();
      for (const { key } of OBJECTS)
        peaks.set(key, await bestOf(RUNS, () => runWorker(runtime, key, endpoint)));
      return peaks;
    };

    const url = `${s3.endpoint}/${BUCKET}/${encodeURIComponent(MIDDLE.key).replace(/%2F/g, '/')}`;
    const curl = await bestOf(RUNS, async () => {
      const run = await measureProcess('curl', ['-sf', `'${url}'`, '|', 'sha256sum'], { shell: true });
      if (!run.stdout.startsWith(digests.get(MIDDLE.key) ?? '-'))
        throw new Error(`curl | sha256sum: ${run.stdout}`);
      return run;
    });
    const mibPerS = (wallMs: number) => MIDDLE.size / MiB / (wallMs / 1000);
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
        metric: `curl piped to sha256sum, ${MIDDLE.label} (reference)`,
        value: `${mibPerS(curl.wallMs).toFixed(0)} MiB/s`,
      },
    ];
    for (const [index, runtime] of runtimes.entries()) {
      const peaks = await peakRss(runtime);
      const big = peaks.get(MIDDLE.key)!;
      const ratio = curl.wallMs / big.wallMs;
      const startup = startups.get(runtime)!;
      const on = `node ${runtime.version.split('.')[0].slice(1)}`;
      rows.push(
        {
          metric: `${on} (${runtime.role}): worker throughput, ${MIDDLE.label}`,
          value: `${mibPerS(big.wallMs).toFixed(0)} MiB/s (${ratio.toFixed(2)}x curl)`,
          target: '>= 0.8x curl',
          met: ratio >= 0.8,
        },
        ...memoryRows(`${on}, HTTP`, peaks),
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
      // On AWS only the image runs, and S3 is HTTPS: TLS records carry at most 16 KiB, so the body comes
      // in smaller chunks than over plain HTTP, with more JavaScript allocation per byte and so more young
      // collections.
      if (index === 0 && https) {
        const tlsEndpoint = { AWS_ENDPOINT_URL_S3: https.endpoint, NODE_EXTRA_CA_CERTS: https.caFile };
        rows.push(...memoryRows(`${on}, HTTPS`, await peakRss(runtime, tlsEndpoint)));
      }
    }
    return {
      title: 'Worker (container/dist/worker.js)',
      rows,
      notes: [
        `${runtimes.map((r) => `${r.version} at ${r.execPath}`).join('; ')}, each running \`node worker.js\` ` +
          `as the Dockerfile CMD does (no flags). s3rver on loopback in the bench process ` +
          `(node ${process.version}); ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)} at the end.`,
        ...runtimeNotes,
        ...('skipped' in tls ? [tls.skipped] : []),
        `Wall times include process start; best of ${RUNS} runs. curl fetches the same object anonymously from the same server.`,
        `Peak RSS is GNU time's maximum resident set size of the worker process, against ${RSS_BUDGET_MiB.toFixed(0)} MiB: ` +
          `40% of the task's default ${DEFAULT_CONFIG.memoryMiB} MiB. On Node 24 it rises once from ${SMALL.label} to ` +
          `${MIDDLE.label}: V8 starts its first full collection at about 64 MiB of dead response buffers, which a ` +
          `${SMALL.label} object barely reaches; from ${MIDDLE.label} to ${LARGE.label} it must stay level.`,
        'Start -> first request: from spawning node to the first HTTP request reaching a stub S3 listener. ' +
          'Node itself takes the bare-node time of it.',
      ],
    };
  } finally {
    client.destroy();
    await https?.server.close();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function memoryRows(on: string, peaks: ReadonlyMap<string, ProcessMeasurement>): BenchRow[] {
  const mib = (object: (typeof OBJECTS)[number]) => peaks.get(object.key)!.peakRssMiB;
  const rss = (value: number) => `${value.toFixed(0)} MiB`;
  const growth = mib(LARGE) - mib(MIDDLE);
  return [
    ...OBJECTS.map((object) => ({
      metric: `${on}: worker peak RSS, ${object.label} object`,
      value: rss(mib(object)),
      target: `< ${RSS_BUDGET_MiB.toFixed(0)} MiB`,
      met: mib(object) < RSS_BUDGET_MiB,
    })),
    {
      metric: `${on}: RSS growth, ${MIDDLE.label} -> ${LARGE.label}`,
      value: rss(growth),
      target: `< ${FLAT_TOLERANCE_MiB} MiB (flat)`,
      met: growth < FLAT_TOLERANCE_MiB,
    },
  ];
}

/** Fails early, naming the fix, rather than filling the disk halfway through writing the objects. */
async function assertFreeDisk(dir: string, bytes: number): Promise<void> {
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < bytes) {
    const gib = (b: number) => (b / GiB).toFixed(1);
    throw new Error(
      `the worker bench needs ${gib(bytes)} GiB free under ${dir} (s3rver's copy of each object plus the file ` +
        `being uploaded) but ${gib(free)} GiB are free: free some space or point TMPDIR at a larger disk`,
    );
  }
}

interface HttpsServer {
  readonly server: S3rver;
  readonly endpoint: string;
  /** The self-signed certificate, for the worker's NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
}

/** A second s3rver over the same objects, on HTTPS with a throw-away certificate for 127.0.0.1. */
async function startHttpsServer(dir: string, directory: string): Promise<HttpsServer | { skipped: string }> {
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      caFile,
    ]);
  } catch (error) {
    return {
      skipped: `No HTTPS rows: openssl could not make a certificate (${(error as Error).message.split('\n')[0]}).`,
    };
  }
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    key: readFileSync(keyFile),
    cert: readFileSync(caFile),
  });
  const { port } = await server.run();
  return { server, endpoint: `https://127.0.0.1:${port}`, caFile };
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
