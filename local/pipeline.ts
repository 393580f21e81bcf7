import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { DeadLetterStore } from './dead-letter-store';
import { LocalEcsTaskRunner, type TaskAttempt } from './ecs-task-runner';
import { compileEventPattern } from './event-pattern';
import { ExecutionQueue } from './execution-queue';
import { FaultInjector, type FaultOptions, startExecutionError } from './faults';
import { targetInputFor } from './input-transformer';
import { objectCreatedEvents, type S3rverNotification } from './s3-events';
import { LOCAL_REGION, localS3Client, localS3Environment, startLocalS3Server } from './s3-server';
import { LocalStateMachine } from './step-functions';
import { WORKER_BUNDLE } from './synth';
import { DeliveryError, TargetDelivery, type UndeliveredEvent } from './target-delivery';
import {
  isRecord,
  loadPipelineTemplate,
  type PipelineTemplate,
  readTemplateFile,
  type StateMachineDefinition,
} from './template';

export type { UndeliveredEvent } from './target-delivery';

/**
 * The whole pipeline on one machine: embedded S3 -> "Object Created" event -> the rule's pattern and
 * input transformer -> the state machine (aws-local-stepfunctions) -> the worker as a local ECS task.
 * Every piece of behaviour comes from the synthesized template; this module only wires them.
 */

export const DEFAULT_BUCKET_NAME = 'local-pipeline-bucket';
export const DEFAULT_CONCURRENCY = 4;

export interface LocalPipelineOptions {
  /** The template `cdk synth` wrote (e.g. `.local/cdk.out/S3FargatePipeline.template.json`). */
  readonly templatePath: string;
  /** Where the embedded S3 server keeps objects. */
  readonly dataDir: string;
  /** The rule target's dead-letter queue: one JSON file per event. @default `dead-letters` beside dataDir */
  readonly deadLetterDir?: string;
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
  /** Factor applied to EventBridge's delivery backoff and event-age limit. @default 1e-4 */
  readonly deliveryRetryScale?: number;
  /**
   * The rule's State: `DISABLED` delivers no event (objects written then are only seen by a backfill),
   * as `aws events disable-rule` does. @default 'ENABLED'
   */
  readonly ruleState?: 'ENABLED' | 'DISABLED';
  readonly faults?: FaultOptions;
  /** Called when an execution has finished (SUCCEEDED or FAILED). */
  readonly onExecutionFinished?: (record: ExecutionRecord) => void;
  /** Each line the worker writes (its CloudWatch Logs, locally). */
  readonly onWorkerLog?: (line: string, taskArn: string) => void;
  /** Called when the rule target gave up on an event (dead-lettered, or dropped without a queue). */
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export type ExecutionStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface ExecutionRecord {
  readonly name: string;
  readonly executionArn: string;
  /** The EventBridge event that started it; undefined for a backfill item. */
  readonly event: unknown;
  /** The execution input (the rule target's input for the event, or the backfill item). */
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

/** Step Functions' error for a second StartExecution with the same name (and another input). */
export class ExecutionAlreadyExists extends Error {
  constructor(name: string) {
    super(`Execution ${name} already exists; execution names are unique per state machine`);
    this.name = 'ExecutionAlreadyExists';
  }
}

export interface StartExecutionOptions {
  /** Unique per pipeline, like Step Functions' names per state machine. @default a random UUID */
  readonly name?: string;
  /** The event the input was made from, for the record. */
  readonly event?: unknown;
}

export interface RunExecutionOptions {
  readonly name: string;
  /** The ARN the execution belongs to (its execution ARN is derived from it). */
  readonly stateMachineArn: string;
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
  /**
   * Puts an EventBridge event on the local bus; returns the execution it started, if the rule matched
   * and the first delivery attempt started one (failed attempts are retried, then dead-lettered).
   */
  deliver(event: unknown): ExecutionRecord | undefined;
  /**
   * Starts (queues) an execution of the event-driven state machine, as StartExecution does; throws
   * ExecutionAlreadyExists for a name used before.
   */
  startExecution(input: unknown, options?: StartExecutionOptions): ExecutionRecord;
  /**
   * Runs `definition` (e.g. a Map's item processor) to completion now, unqueued, with this pipeline's
   * task runner and faults; the record is listed in `executions()`.
   */
  runExecution(
    definition: StateMachineDefinition,
    input: unknown,
    options: RunExecutionOptions,
  ): Promise<ExecutionRecord>;
  /** Resolves when no event is being converted or retried and no execution is queued or running. */
  waitForIdle(): Promise<void>;
  executions(): readonly ExecutionRecord[];
  /** Events the rule target gave up on during this run (see also `deadLetters`). */
  undelivered(): readonly UndeliveredEvent[];
  /** The rule target's dead-letter queue, kept across runs. */
  readonly deadLetters: DeadLetterStore;
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
  // One LocalStateMachine per definition: the event-driven one, and any a backfill runs.
  const stateMachines = new Map<StateMachineDefinition, LocalStateMachine>();
  const stateMachineFor = (definition: StateMachineDefinition) => {
    let machine = stateMachines.get(definition);
    if (!machine) {
      machine = new LocalStateMachine(definition, { retryIntervalScale: options.retryIntervalScale });
      stateMachines.set(definition, machine);
    }
    return machine;
  };
  stateMachineFor(template.definition); // validates the definition before anything starts
  const matchesRule = compileEventPattern(template.eventPattern);
  const queue = new ExecutionQueue(options.concurrency ?? DEFAULT_CONCURRENCY);

  const server = await startLocalS3Server({
    directory: options.dataDir,
    buckets: [bucket],
    port: options.port,
  });
  const s3 = localS3Client(server.endpoint);
  const faults = new FaultInjector(options.faults);
  const runner = new LocalEcsTaskRunner({
    taskDefinitions: template.taskDefinitions,
    command: workerCommand,
    baseEnvironment: localS3Environment(server.endpoint),
    region: template.region,
    accountId: template.accountId,
    faults,
    onLog: options.onWorkerLog && ((line, task) => options.onWorkerLog?.(line, task.taskArn)),
  });

  const records: ExecutionRecord[] = [];
  /** Execution ARNs so far: a name is unique per state machine, as in Step Functions. */
  const startedArns = new Set<string>();
  const undelivered: UndeliveredEvent[] = [];
  const deadLetters = new DeadLetterStore(
    options.deadLetterDir ?? join(dirname(options.dataDir), 'dead-letters'),
  );
  const reportUndelivered = (event: UndeliveredEvent) => {
    undelivered.push(event);
    options.onUndelivered?.(event);
  };
  const delivery = new TargetDelivery({
    ruleArn: template.ruleArn,
    targetArn: template.stateMachineArn,
    retryPolicy: template.retryPolicy,
    retryScale: options.deliveryRetryScale,
    deadLetters: template.deadLetterQueueArn === undefined ? undefined : deadLetters,
    onUndelivered: reportUndelivered,
  });
  let pendingEvents = 0;
  let accepting = true;

  const newRecord = (
    input: unknown,
    name: string,
    stateMachineArn: string,
    event?: unknown,
  ): ExecutionRecord => {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (startedArns.has(executionArn)) throw new ExecutionAlreadyExists(name);
    startedArns.add(executionArn);
    const record: ExecutionRecord = {
      name,
      executionArn,
      event,
      input,
      bucket: isRecord(input) ? String(input.bucket) : '',
      key: isRecord(input) ? String(input.key) : '',
      status: 'QUEUED',
      attempts: [],
    };
    records.push(record);
    return record;
  };

  const execute = async (record: ExecutionRecord, definition: StateMachineDefinition) => {
    record.status = 'RUNNING';
    const started = Date.now();
    const outcome = await stateMachineFor(definition).run(record.input, (stateName, parameters, state) =>
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

  /** Only a bug in the local pipeline gets here (a failed execution is an outcome, not an error). */
  const failWithBug = (record: ExecutionRecord, error: unknown) => {
    record.status = 'FAILED';
    record.error = 'LocalPipelineError';
    record.cause = error instanceof Error ? (error.stack ?? error.message) : String(error);
    options.onExecutionFinished?.(record);
  };

  const startExecution = (input: unknown, start: StartExecutionOptions = {}): ExecutionRecord => {
    const record = newRecord(input, start.name ?? randomUUID(), template.stateMachineArn, start.event);
    void queue.add(() => execute(record, template.definition)).catch((error) => failWithBug(record, error));
    return record;
  };

  const runExecution = async (
    definition: StateMachineDefinition,
    input: unknown,
    run: RunExecutionOptions,
  ): Promise<ExecutionRecord> => {
    const record = newRecord(input, run.name, run.stateMachineArn);
    await execute(record, definition).catch((error) => failWithBug(record, error));
    return record;
  };

  const deliver = (event: unknown): ExecutionRecord | undefined => {
    if (!accepting || options.ruleState === 'DISABLED' || !matchesRule(event)) return undefined;
    // Whether this event's StartExecution can never succeed is decided once, for all its attempts.
    const cannotStart = faults.takeStartFailure();
    return delivery.deliver(event, () => {
      let input: unknown;
      try {
        input = targetInputFor(template.target, event, {
          ruleArn: template.ruleArn,
          ruleName: template.ruleName,
        });
      } catch (error) {
        // A target invocation failure that no retry can fix: straight to the dead-letter queue.
        throw new DeliveryError('INVALID_JSON', (error as Error).message, false);
      }
      if (cannotStart) throw startExecutionError(randomUUID());
      return startExecution(input, { event });
    });
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
      .catch((error: unknown) => {
        // A bug in the local pipeline (S3 -> EventBridge), not a target failure: reported, not dead-lettered.
        const attributes = {
          RULE_ARN: template.ruleArn,
          TARGET_ARN: template.stateMachineArn,
          ERROR_CODE: 'LocalPipelineError',
          ERROR_MESSAGE: String(error),
          RETRY_ATTEMPTS: '0',
        };
        reportUndelivered({ event: notification, attributes });
      })
      .finally(() => pendingEvents--);
  });

  const waitForIdle = async () => {
    // Events become executions asynchronously (a HeadObject for copies), so wait until both are settled.
    for (;;) {
      await queue.onIdle();
      if (pendingEvents === 0 && delivery.retrying === 0 && queue.running === 0 && queue.queued === 0) return;
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
    startExecution,
    runExecution,
    waitForIdle,
    executions: () => records,
    undelivered: () => undelivered,
    deadLetters,
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
