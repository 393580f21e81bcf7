import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand } from '@aws-sdk/client-s3';

import { synthesize } from '../local/cloudformation/synth';
import { DEFAULT_VCPU_QUOTA } from '../local/ecs/fargate-quotas';
import { startLocalPipeline } from '../local/pipeline';
import { localS3Client, localS3Environment, startLocalS3Server } from '../local/s3/server';
import { percentile } from '../local/simulate/simulation';
import { ExecutionQueue } from '../local/stepfunctions/execution-queue';
import { WORKER_BUNDLE } from '../shared/paths';
import type { BenchSection } from './table';

const OBJECTS = 200;
/** Tasks of 0.25 vCPU a default account runs at once: what bounds the pipeline side, so the direct side too. */
const TASKS_AT_ONCE = DEFAULT_VCPU_QUOTA * 4;
const TARGET_OVERHEAD = 0.25;
/** Pairs of runs (direct, then through the pipeline); the target is read on their median. */
const ROUNDS = 3;

/**
 * 200 small objects through the whole local pipeline (S3 event -> rule -> state machine -> local ECS
 * task, at most the default vCPU quota's 24 at once), beside the same 200 worker runs started directly
 * with the same environment, 24 at once. Both sides include the uploads. The difference is what the
 * emulated AWS layer costs, including the executions' backoff while they wait for a free vCPU.
 */
export async function benchLocalPipeline(options: { templatePath?: string } = {}): Promise<BenchSection> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const templatePath = options.templatePath ?? (await synthesize({ outDir: '.local/bench-cdk.out' }));
  const keys = Array.from(
    { length: OBJECTS },
    (_, i) => `incoming/bench/object-${String(i).padStart(3, '0')}.txt`,
  );
  const body = (key: string) => `small object ${key}\n`;

  const runDirect = () =>
    withDataDir(async (dataDir): Promise<Side> => {
      const bucket = 'bench-bucket';
      const server = await startLocalS3Server({ directory: dataDir, buckets: [bucket] });
      const s3 = localS3Client(server.endpoint);
      const queue = new ExecutionQueue(TASKS_AT_ONCE);
      const started = performance.now();
      const cpuBefore = cpuSeconds();
      await Promise.all(
        keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body(Key) }))),
      );
      const exitCodes = await Promise.all(
        keys.map((key) =>
          queue.add(() =>
            runWorker({
              ...localS3Environment(server.endpoint),
              BUCKET: bucket,
              KEY: key,
              OUTPUT_BUCKET: bucket,
              OUTPUT_PREFIX: 'processed/',
            }),
          ),
        ),
      );
      const wallMs = performance.now() - started;
      const cpu = cpuSeconds(cpuBefore);
      s3.destroy();
      await server.close();
      return { wallMs, cpu, failed: exitCodes.filter((code) => code !== 0).length };
    });

  const runPipelined = () =>
    withDataDir(async (dir): Promise<Side> => {
      // The journal and the dead letters in this run's directory too: by default they are kept beside
      // the data directory, here the system's temporary directory, where every earlier run's executions
      // would be read (and their JSON held) when the pipeline starts.
      const pipeline = await startLocalPipeline({
        templatePath,
        dataDir: join(dir, 'objects'),
        journalDir: join(dir, 'executions'),
        deadLetterDir: join(dir, 'dead-letters'),
      });
      const started = performance.now();
      const cpuBefore = cpuSeconds();
      await Promise.all(keys.map((key) => pipeline.upload(key, body(key))));
      await pipeline.waitForIdle();
      const wallMs = performance.now() - started;
      const cpu = cpuSeconds(cpuBefore);
      const failed = pipeline.executions().filter((e) => e.status !== 'SUCCEEDED').length;
      const executions = pipeline.executions().length;
      await pipeline.stop();
      return { wallMs, cpu, failed: failed + (OBJECTS - executions) };
    });

  // The sides alternate, ROUNDS times: the worker runs' own CPU varies by a tenth from run to run on
  // this machine (30 to 40 s for the same 200 runs), more than the emulator's share, so one pair of
  // runs can land anywhere from 10 to 40 %; the median of three pairs is the figure.
  const rounds: Array<{ direct: Side; pipelined: Side; overhead: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const direct = await runDirect();
    const pipelined = await runPipelined();
    rounds.push({ direct, pipelined, overhead: pipelined.wallMs / direct.wallMs - 1 });
  }
  const overhead = percentile(
    rounds.map((r) => r.overhead).sort((a, b) => a - b),
    0.5,
  );
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const each = (value: (round: (typeof rounds)[number]) => string) => rounds.map(value).join(', ');
  const cpu = (side: Side, of: keyof CpuSeconds) =>
    side.cpu[of] === undefined ? '?' : seconds(side.cpu[of]! * 1000);
  const failed = (side: 'direct' | 'pipelined') => rounds.reduce((sum, r) => sum + r[side].failed, 0);
  return {
    title: `Local pipeline: ${OBJECTS} small objects, ${TASKS_AT_ONCE} tasks at once (default vCPU quota), ${ROUNDS} rounds`,
    rows: [
      {
        metric: 'worker runs started directly (wall), each round',
        value: each((r) => seconds(r.direct.wallMs)),
      },
      {
        metric: 'through the local pipeline (wall), each round',
        value: each((r) => seconds(r.pipelined.wallMs)),
      },
      { metric: 'pipeline overhead, each round', value: each((r) => `${(r.overhead * 100).toFixed(0)} %`) },
      {
        metric: 'pipeline overhead, median of the rounds',
        value: `${(overhead * 100).toFixed(0)} %`,
        target: `<= ${TARGET_OVERHEAD * 100} %`,
        met: overhead <= TARGET_OVERHEAD,
      },
      {
        metric: 'CPU of this process, direct / pipeline, each round',
        value: each((r) => `${cpu(r.direct, 'main')} / ${cpu(r.pipelined, 'main')}`),
      },
      {
        metric: 'CPU of the worker processes, direct / pipeline, each round',
        value: each((r) => `${cpu(r.direct, 'workers')} / ${cpu(r.pipelined, 'workers')}`),
      },
      {
        metric: 'failed runs (direct / pipeline), all rounds',
        value: `${failed('direct')} / ${failed('pipelined')}`,
        target: '0 / 0',
        met: failed('direct') + failed('pipelined') === 0,
      },
    ],
    notes: [
      'Both sides include uploading the objects to the embedded S3 server; each worker run is a new Node process.',
      "The pipeline side adds the S3 event, rule matching, input transformer, the Step Functions engine (local/stepfunctions: the launch gate's DynamoDB calls, the object records and their recorder) and the ECS task emulation.",
      'CPU is user plus system time: of this process (the emulated AWS, the uploads and the spawning) and of the worker processes that ended, as the kernel counts them; on a shared machine compare CPU, not wall.',
    ],
  };
}

/** One side's run: its wall time, its CPU, and the objects that did not end in a result. */
interface Side {
  readonly wallMs: number;
  readonly cpu: CpuSeconds;
  readonly failed: number;
}

interface CpuSeconds {
  /** User plus system CPU of this process. */
  readonly main: number;
  /** The same of the child processes that ended (the worker runs); undefined where /proc is not. */
  readonly workers?: number;
}

/**
 * CPU used so far (or since `since`): this process's from Node, its ended children's from
 * /proc/self/stat (cutime and cstime, in the kernel's USER_HZ of 100 per second), which Node does
 * not expose.
 */
function cpuSeconds(since: CpuSeconds = { main: 0, workers: 0 }): CpuSeconds {
  const { user, system } = process.cpuUsage();
  const main = (user + system) / 1e6 - since.main;
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return { main };
  }
  // The fields after the command name (which may hold spaces) start at field 3, state.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const children = (Number(fields[13]) + Number(fields[14])) / 100;
  return { main, workers: since.workers === undefined ? undefined : children - since.workers };
}

function runWorker(env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER_BUNDLE], { env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

async function withDataDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-local-pipeline-'));
  try {
    return await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
