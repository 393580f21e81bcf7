import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { WORKER_BUNDLE } from '../shared/paths';
import { type Clock, RealClock } from './clock';
import { deployLocally, readTemplateFile } from './cloudformation/template';
import { LocalCloudWatch } from './cloudwatch/metrics';
import { type LocalDynamoDb, startLocalDynamoDb } from './dynamodb/server';
import { FargateQuotas } from './ecs/fargate-quotas';
import { type LaunchFaultOptions, LaunchFaults } from './ecs/launch-faults';
import { loadTaskDefinitions } from './ecs/task-definitions';
import { LocalEcsTaskRunner } from './ecs/task-runner';
import { DeadLetterStore } from './events/dead-letter-store';
import { LocalEventBus } from './events/event-bus';
import { findObjectCreatedRule, loadObjectCreatedRule, type ObjectCreatedRule } from './events/rule-template';
import type { UndeliveredEvent } from './events/target-delivery';
import { RoleSessions, sessionEnvironment } from './iam/role-sessions';
import { TemplateIam } from './iam/template-iam';
import { templateAccessControl } from './s3/access-control';
import { S3EventNotifications } from './s3/event-notifications';
import {
  LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  localS3Client,
  localS3EndpointEnvironment,
  startLocalS3Server,
} from './s3/server';
import { LocalSqs } from './sqs/queues';
import type { StepFunctionsApi } from './stepfunctions/api';
import type { Json } from './stepfunctions/asl/paths';
import {
  type BackfillStateMachine,
  findBackfillStateMachine,
  loadStateMachine,
  loadStateMachines,
  type LocalStateMachineResource,
} from './stepfunctions/definitions';
import { ExecutionJournal } from './stepfunctions/execution-journal';
import {
  type ExecutionRecord,
  LocalStepFunctions,
  type StartExecutionOptions,
} from './stepfunctions/executions';
import type { StatusChangeEvent } from './stepfunctions/status-change-event';
import { readResult, writtenResult } from './worker-contract';

export type { ExecutionRecord, StatusChangeEvent, UndeliveredEvent };

/**
 * How much faster than real time `npm start` runs its clock: retries, waits, long polls, visibility
 * timeouts, task and execution timeouts alike. 100 turns the gate's 20 s long poll into 0.2 s and a
 * 5-minute retry cap into 3 s; a task's 3600 s TimeoutSeconds is then 36 s of wall time, ample for
 * a local worker run.
 */
export const LOCAL_CLOCK_SPEED = 100;

/**
 * The whole pipeline on one machine: embedded S3 -> "Object Created" event -> the rule's pattern and
 * input transformer -> the state machine (the local Step Functions engine, its launch gate on the
 * local DynamoDB and SQS) -> the worker as a local ECS task, all on one Clock.
 * Every piece of behaviour comes from the synthesized template, each service reading its own slice;
 * this module only wires the services together.
 */

/** The faults a laptop never produces: Fargate's launch failures, and a state machine EventBridge cannot start. */
export interface FaultOptions extends LaunchFaultOptions {
  /** Events that can never start an execution (see LocalEventBusOptions.startFailures). */
  readonly startFailures?: number;
}

export const DEFAULT_BUCKET_NAME = 'local-pipeline-bucket';

export interface LocalPipelineOptions {
  /** The template `cdk synth` wrote (e.g. `.local/cdk.out/S3FargatePipeline.template.json`). */
  readonly templatePath: string;
  /** Where the embedded S3 server keeps objects. */
  readonly dataDir: string;
  /** The rule target's dead-letter queue: one JSON file per event. @default `dead-letters` beside dataDir */
  readonly deadLetterDir?: string;
  /** Every execution, one JSON file each, kept across runs. @default `executions` beside dataDir */
  readonly journalDir?: string;
  /** @default 0 - any free port */
  readonly port?: number;
  /** The account's Fargate On-Demand vCPU quota (L-3032A538). @default 6 */
  readonly fargateVcpuQuota?: number;
  /** The account's Fargate Spot vCPU quota (L-36FBB829). @default 6 */
  readonly fargateSpotVcpuQuota?: number;
  /** Local name of the bucket the rule watches. @default 'local-pipeline-bucket' */
  readonly bucketName?: string;
  /** @default [node, container/dist/worker.js] */
  readonly workerCommand?: readonly string[];
  /** The only source of time of the services. @default new RealClock(LOCAL_CLOCK_SPEED) */
  readonly clock?: Clock;
  /** Keys per page of a Distributed Map's bucket listing. @default 1000 (S3's maximum) */
  readonly listPageSize?: number;
  /** Factor applied to EventBridge's delivery backoff and event-age limit. @default 1e-4 */
  readonly deliveryRetryScale?: number;
  /**
   * The rule's State: `DISABLED` delivers no event (objects written then are only seen by a backfill),
   * as `aws events disable-rule` does. @default 'ENABLED'
   */
  readonly ruleState?: 'ENABLED' | 'DISABLED';
  readonly faults?: FaultOptions;
  /** Each "Step Functions Execution Status Change" event, for the local event bus. */
  readonly onExecutionStatusChange?: (event: StatusChangeEvent) => void;
  /** Called when an execution has ended (SUCCEEDED, FAILED, TIMED_OUT or ABORTED). */
  readonly onExecutionFinished?: (record: ExecutionRecord) => void;
  /** Each line the worker writes (its CloudWatch Logs, locally). */
  readonly onWorkerLog?: (line: string, taskArn: string) => void;
  /** Called when the rule target gave up on an event (dead-lettered, or dropped without a queue). */
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export interface LocalPipeline {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** The rule's key prefix: objects under it start executions. */
  readonly inputPrefix: string;
  /** The template's slices, as deployed locally. */
  readonly rule: ObjectCreatedRule;
  readonly stateMachine: LocalStateMachineResource;
  readonly backfill?: BackfillStateMachine;
  /** A client for the embedded S3 server. */
  readonly s3: S3Client;
  /** The local DynamoDB (dynalite) with the template's tables. */
  readonly dynamodb: LocalDynamoDb;
  /** The template's queues, in process. */
  readonly sqs: LocalSqs;
  /** The local Step Functions: executions, Map Runs, task tokens. */
  readonly stepFunctions: LocalStepFunctions;
  /** The Step Functions API on it, for the local endpoint (signing name `states`). */
  readonly stepFunctionsApi: StepFunctionsApi;
  /** PutMetricData's data points, as the state machines sent them. */
  readonly cloudwatch: LocalCloudWatch;
  readonly clock: Clock;
  /** Writes an object into the watched bucket (its event starts an execution if the rule matches). */
  upload(key: string, body: string | Uint8Array): Promise<void>;
  /**
   * Puts an EventBridge event on the local bus; returns the execution it started, if the rule matched
   * and the first delivery attempt started one (failed attempts are retried, then dead-lettered).
   */
  deliver(event: unknown): ExecutionRecord | undefined;
  /**
   * Starts an execution of the event-driven state machine, as StartExecution does; throws
   * ExecutionAlreadyExists for a name used before.
   */
  startExecution(input: unknown, options?: StartExecutionOptions): ExecutionRecord;
  /** Resolves when no event is being converted or retried and no execution is running. */
  waitForIdle(): Promise<void>;
  /** The executions of one object each: the workflow's, and a backfill's children (not the backfill run). */
  executions(): readonly ExecutionRecord[];
  /** The most tasks that ran at once so far (bounded by the Fargate vCPU quotas). */
  peakRunningTasks(): number;
  /** Events the rule target gave up on during this run (see also `deadLetters`). */
  undelivered(): readonly UndeliveredEvent[];
  /** The rule target's dead-letter queue, kept across runs. */
  readonly deadLetters: DeadLetterStore;
  /** Every execution of this and earlier runs (input, status, error, cause, times). */
  readonly journal: ExecutionJournal;
  /**
   * RedriveExecution on a failed execution of the event-driven state machine (queued); throws an
   * error named ExecutionNotRedrivable for one Step Functions would refuse.
   */
  redriveExecution(executionArn: string): ExecutionRecord;
  /** The JSON the worker wrote for this execution, or null when it wrote none. */
  readResult(record: ExecutionRecord): Promise<unknown>;
  /** Stops accepting events; `drain` (default) lets running executions finish first. */
  stop(options?: { readonly drain?: boolean }): Promise<void>;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const bucket = options.bucketName ?? DEFAULT_BUCKET_NAME;
  const template = readTemplateFile(options.templatePath);
  const ruleMatch = findObjectCreatedRule(template);
  const deployment = deployLocally(template, {
    region: LOCAL_REGION,
    bucketNames: { [ruleMatch.dataBucketLogicalId]: bucket },
  });
  const rule = loadObjectCreatedRule(deployment, ruleMatch);
  const stateMachine = loadStateMachine(deployment, rule.targetLogicalId);
  const backfill = findBackfillStateMachine(deployment);
  const workerCommand = options.workerCommand ?? [process.execPath, WORKER_BUNDLE];
  if (!options.workerCommand && !existsSync(WORKER_BUNDLE)) {
    throw new Error(`The worker bundle ${WORKER_BUNDLE} does not exist; build it with \`npm run build\``);
  }

  // Each task runs as a session of its task role, and the local S3 decides its every request with
  // that role's policies and the bucket policy, as S3 does; the local S3's own credentials (the
  // user's uploads, the emulator's reads) act as the account's administrator.
  const sessions = new RoleSessions();
  const server = await startLocalS3Server({
    directory: options.dataDir,
    buckets: [bucket],
    port: options.port,
    authorize: templateAccessControl({
      iam: new TemplateIam(deployment),
      sessions,
      unrestrictedAccessKeyId: LOCAL_S3_CREDENTIALS.accessKeyId,
      partition: deployment.partition,
      accountId: deployment.accountId,
    }),
  });
  const s3 = localS3Client(server.endpoint);
  const dynamodb = await startLocalDynamoDb(deployment);
  const clock = options.clock ?? new RealClock(LOCAL_CLOCK_SPEED);
  const sqs = LocalSqs.fromDeployment(deployment, clock);

  const ecs = new LocalEcsTaskRunner({
    clock,
    taskDefinitions: loadTaskDefinitions(deployment),
    command: workerCommand,
    // No credentials but the task role's: a task without one reaches nothing, as on AWS.
    baseEnvironment: localS3EndpointEnvironment(server.endpoint),
    taskCredentials: ({ taskDefinition, taskArn }) => {
      if (!taskDefinition.taskRoleLogicalId) return { environment: {}, end: () => undefined };
      const session = sessions.issue(taskDefinition.taskRoleLogicalId, taskArn.split('/').pop()!);
      server.acceptAccessKey(session.accessKeyId, session.secretAccessKey);
      return {
        environment: sessionEnvironment(session),
        end: () => {
          sessions.revoke(session);
          server.forgetAccessKey(session.accessKeyId);
        },
      };
    },
    partition: deployment.partition,
    region: deployment.region,
    accountId: deployment.accountId,
    faults: new LaunchFaults(options.faults),
    quotas: new FargateQuotas(
      { vcpuQuota: options.fargateVcpuQuota, spotVcpuQuota: options.fargateSpotVcpuQuota },
      clock.now() / 1000,
    ),
    onLog: options.onWorkerLog && ((line, task) => options.onWorkerLog?.(line, task.taskArn)),
  });

  const cloudwatch = new LocalCloudWatch(() => clock.now());
  const journal = new ExecutionJournal(options.journalDir ?? join(dirname(options.dataDir), 'executions'));
  const stepFunctions = new LocalStepFunctions({
    clock,
    journal,
    region: deployment.region,
    services: { dynamodb: dynamodb.client, sqs, cloudwatch },
    // Every definition is checked before anything starts: one the engine cannot run is refused, named.
    stateMachines: loadStateMachines(deployment),
    itemReader: { s3, pageSize: options.listPageSize },
    onStatusChange: options.onExecutionStatusChange,
    runTask: async ({ record, stateName, parameters, signal }) =>
      (await ecs.run({
        stateName,
        parameters,
        signal,
        onAttempt: (attempt) => record.attempts.push(attempt),
      })) as Json,
    onExecutionFinished: async (record) => {
      if (record.status === 'SUCCEEDED')
        record.result = await writtenResult(s3, record.attempts.at(-1)?.environment);
      options.onExecutionFinished?.(record);
    },
  });

  const deadLetters = new DeadLetterStore(
    options.deadLetterDir ?? join(dirname(options.dataDir), 'dead-letters'),
  );
  const startExecution = (input: unknown, start?: StartExecutionOptions) =>
    stepFunctions.startExecution(stateMachine, input, start);
  const bus = new LocalEventBus({
    rule,
    ruleState: options.ruleState,
    deliveryRetryScale: options.deliveryRetryScale,
    deadLetters: rule.deadLetterQueueArn === undefined ? undefined : deadLetters,
    startFailures: options.faults?.startFailures,
    startExecution: (input, event) => startExecution(input, { event }),
    onUndelivered: options.onUndelivered,
  });
  let accepting = true;
  const deliver = (event: unknown) => (accepting ? bus.put(event) : undefined);

  const notifications = new S3EventNotifications(server, s3, {
    account: deployment.accountId,
    region: deployment.region,
    onEvent: deliver,
    onError: (notification, error) => bus.reportLocalFailure(notification, error),
  });

  const waitForIdle = async () => {
    // Events become executions asynchronously (a HeadObject for copies), so wait until both are settled.
    for (;;) {
      await stepFunctions.onIdle();
      if (notifications.pending === 0 && bus.retrying === 0 && stepFunctions.idle) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  return {
    endpoint: server.endpoint,
    port: server.port,
    bucket,
    inputPrefix: rule.inputPrefix,
    rule,
    stateMachine,
    backfill,
    s3,
    dynamodb,
    sqs,
    stepFunctions,
    stepFunctionsApi: stepFunctions.api,
    cloudwatch,
    clock,
    upload: async (key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    deliver,
    startExecution,
    waitForIdle,
    // A backfill run is an execution too, but of no object: its children are listed.
    executions: () => stepFunctions.executions().filter((e) => e.stateMachineArn !== backfill?.arn),
    peakRunningTasks: () => ecs.peakRunningTasks,
    undelivered: () => bus.undelivered(),
    deadLetters,
    journal,
    redriveExecution: (executionArn) => stepFunctions.redriveExecution(stateMachine, executionArn),
    readResult: (record) => readResult(s3, record.result),
    stop: async ({ drain = true } = {}) => {
      accepting = false;
      notifications.stop();
      if (!drain) stepFunctions.stopAll('The local pipeline was stopped without draining');
      await waitForIdle();
      await ecs.onIdle();
      s3.destroy();
      await Promise.all([server.close(), dynamodb.close()]);
    },
  };
}
