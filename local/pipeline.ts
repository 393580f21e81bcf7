import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { LocalEcsTaskRunner, type TaskAttempt } from './ecs-task-runner';
import { compileEventPattern } from './event-pattern';
import { ExecutionQueue } from './execution-queue';
import { FaultInjector, type FaultOptions } from './faults';
import { targetInputFor } from './input-transformer';
import { objectCreatedEvents, type S3rverNotification } from './s3-events';
import { LOCAL_REGION, localS3Client, localS3Environment, startLocalS3Server } from './s3-server';
import { LocalStateMachine } from './step-functions';
import { isRecord, loadPipelineTemplate, type PipelineTemplate, readTemplateFile } from './template';

/**
 * The whole pipeline on one machine: embedded S3 -> "Object Created" event -> the rule's pattern and
 * input transformer -> the state machine (aws-local-stepfunctions) -> the worker as a local ECS task.
 * Every piece of behaviour comes from the synthesized template; this module only wires them.
 */

export const DEFAULT_BUCKET_NAME = 'local-pipeline-bucket';
export const DEFAULT_CONCURRENCY = 4;
export const WORKER_BUNDLE = join(__dirname, '..', 'container', 'dist', 'worker.js');

export interface LocalPipelineOptions {
  /** The template `cdk synth` wrote (e.g. `.local/cdk.out/S3FargatePipeline.template.json`). */
  readonly templatePath: string;
  /** Where the embedded S3 server keeps objects. */
  readonly dataDir: string;
  /** @default 0 - any free port */
  readonly port?: number;
  /** Executions running at once; more are queued. @default 4 */
  readonly concurrency?: number;
  /** Local name of the bucket the rule watches. @default 'local-pipeline-bucket' */
  readonly bucketName?: string;
  /** @default [node, container/dist/worker.js] */
  readonly workerCommand?: readonly string[];
  /** Factor applied to Retry intervals. @default 0.01 */
  readonly retryIntervalScale?: number;
  readonly faults?: FaultOptions;
  /** Called when an execution has finished (SUCCEEDED or FAILED). */
  readonly onExecutionFinished?: (record: ExecutionRecord) => void;
  /** Each line the worker writes (its CloudWatch Logs, locally). */
  readonly onWorkerLog?: (line: string, taskArn: string) => void;
}

export type ExecutionStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface ExecutionRecord {
  readonly name: string;
  readonly executionArn: string;
  /** The EventBridge event that started it. */
  readonly event: unknown;
  /** The execution input (the rule target's input for the event). */
  readonly input: unknown;
  readonly bucket: string;
  readonly key: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  output?: unknown;
  /** From start to stop of the execution (queueing excluded). */
  durationMs?: number;
  /** Every task launch, in order, with the state that made it. */
  readonly attempts: TaskAttempt[];
  /** Where the worker wrote its result, from its summary log line; undefined when it wrote none. */
  result?: { readonly bucket: string; readonly key: string };
}

/** An event that matched the rule but could not start an execution (kept for a later replay). */
export interface UndeliveredEvent {
  readonly event: unknown;
  readonly reason: string;
}

export interface LocalPipeline {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** The rule's key prefix: objects under it start executions. */
  readonly inputPrefix: string;
  readonly template: PipelineTemplate;
  /** A client for the embedded S3 server. */
  readonly s3: S3Client;
  /** Writes an object into the watched bucket (its event starts an execution if the rule matches). */
  upload(key: string, body: string | Uint8Array): Promise<void>;
  /** Puts an EventBridge event on the local bus; returns the execution it started, if the rule matched. */
  deliver(event: unknown): ExecutionRecord | undefined;
  /** Resolves when no event is being converted and no execution is queued or running. */
  waitForIdle(): Promise<void>;
  executions(): readonly ExecutionRecord[];
  undelivered(): readonly UndeliveredEvent[];
  /** The JSON the worker wrote for this execution, or null when it wrote none. */
  readResult(record: ExecutionRecord): Promise<unknown>;
  /** Stops accepting events; `drain` (default) lets queued and running executions finish first. */
  stop(options?: { readonly drain?: boolean }): Promise<void>;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const bucket = options.bucketName ?? DEFAULT_BUCKET_NAME;
  const template = loadPipelineTemplate(readTemplateFile(options.templatePath), {
    bucketName: bucket,
    region: LOCAL_REGION,
  });
  const workerCommand = options.workerCommand ?? [process.execPath, WORKER_BUNDLE];
  if (!options.workerCommand && !existsSync(WORKER_BUNDLE)) {
    throw new Error(`The worker bundle ${WORKER_BUNDLE} does not exist; build it with \`npm run build\``);
  }
  const stateMachine = new LocalStateMachine(template.definition, {
    retryIntervalScale: options.retryIntervalScale,
  });
  const matchesRule = compileEventPattern(template.eventPattern);
  const queue = new ExecutionQueue(options.concurrency ?? DEFAULT_CONCURRENCY);

  const server = await startLocalS3Server({
    directory: options.dataDir,
    buckets: [bucket],
    port: options.port,
  });
  const s3 = localS3Client(server.endpoint);
  const runner = new LocalEcsTaskRunner({
    taskDefinitions: template.taskDefinitions,
    command: workerCommand,
    baseEnvironment: localS3Environment(server.endpoint),
    region: template.region,
    accountId: template.accountId,
    faults: new FaultInjector(options.faults),
    onLog: options.onWorkerLog && ((line, task) => options.onWorkerLog?.(line, task.taskArn)),
  });

  const records: ExecutionRecord[] = [];
  const undelivered: UndeliveredEvent[] = [];
  let pendingEvents = 0;
  let accepting = true;

  const execute = async (record: ExecutionRecord) => {
    record.status = 'RUNNING';
    const started = Date.now();
    const outcome = await stateMachine.run(record.input, (stateName, parameters, state) =>
      runner.run({
        stateName,
        parameters,
        timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined,
        onAttempt: (attempt) => record.attempts.push(attempt),
      }),
    );
    record.durationMs = Date.now() - started;
    record.status = outcome.status;
    record.output = outcome.output;
    record.error = outcome.error;
    record.cause = outcome.cause;
    record.result = resultLocation(record);
    options.onExecutionFinished?.(record);
  };

  const deliver = (event: unknown): ExecutionRecord | undefined => {
    if (!accepting || !matchesRule(event)) return undefined;
    let input: unknown;
    try {
      input = targetInputFor(template.target, event, {
        ruleArn: template.ruleArn,
        ruleName: template.ruleName,
      });
    } catch (error) {
      // EventBridge sends such an event to the target's dead-letter queue.
      undelivered.push({ event, reason: (error as Error).message });
      return undefined;
    }
    const name = randomUUID();
    const record: ExecutionRecord = {
      name,
      executionArn: `${template.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
      event,
      input,
      bucket: isRecord(input) ? String(input.bucket) : '',
      key: isRecord(input) ? String(input.key) : '',
      status: 'QUEUED',
      attempts: [],
    };
    records.push(record);
    void queue
      .add(() => execute(record))
      .catch((error: unknown) => {
        // Only a bug in the local pipeline gets here (a failed execution is an outcome, not an error).
        record.status = 'FAILED';
        record.error = 'LocalPipelineError';
        record.cause = error instanceof Error ? (error.stack ?? error.message) : String(error);
        options.onExecutionFinished?.(record);
      });
    return record;
  };

  // s3rver is a Koa app, an EventEmitter; @types/s3rver does not declare that.
  (server.server as unknown as EventEmitter).on('event', (notification: S3rverNotification) => {
    if (!accepting) return;
    pendingEvents++;
    objectCreatedEvents(notification, {
      account: template.accountId,
      region: template.region,
      lookUp: async (bucketName, key) => {
        try {
          const head = await s3.send(new HeadObjectCommand({ Bucket: bucketName, Key: key }));
          return { size: head.ContentLength, etag: head.ETag };
        } catch {
          return undefined; // Deleted already: S3 still sends the event; the worker will find it gone.
        }
      },
    })
      .then((events) => events.forEach(deliver))
      .catch((error: unknown) => undelivered.push({ event: notification, reason: String(error) }))
      .finally(() => pendingEvents--);
  });

  const waitForIdle = async () => {
    // Events become executions asynchronously (a HeadObject for copies), so wait until both are settled.
    for (;;) {
      await queue.onIdle();
      if (pendingEvents === 0 && queue.running === 0 && queue.queued === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  return {
    endpoint: server.endpoint,
    port: server.port,
    bucket,
    inputPrefix: template.inputPrefix,
    template,
    s3,
    upload: async (key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    deliver,
    waitForIdle,
    executions: () => records,
    undelivered: () => undelivered,
    readResult: async (record) => {
      if (!record.result) return null;
      try {
        const object = await s3.send(
          new GetObjectCommand({ Bucket: record.result.bucket, Key: record.result.key }),
        );
        return JSON.parse(await object.Body!.transformToString());
      } catch {
        return null;
      }
    },
    stop: async ({ drain = true } = {}) => {
      accepting = false;
      if (!drain) runner.stopAll();
      await waitForIdle();
      s3.destroy();
      await server.close();
    },
  };
}

/** The result the last task wrote, from the worker's summary log line (`resultBucket`, `resultKey`). */
function resultLocation(record: ExecutionRecord): ExecutionRecord['result'] {
  const summary = record.attempts.at(-1)?.summary;
  if (record.status !== 'SUCCEEDED' || !summary) return undefined;
  const { resultBucket, resultKey } = summary;
  return typeof resultBucket === 'string' && typeof resultKey === 'string'
    ? { bucket: resultBucket, key: resultKey }
    : undefined;
}
