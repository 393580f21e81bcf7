import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { OBJECT_RECORDS_TABLE_OUTPUT } from '../shared/object-record';
import { WORKER_BUNDLE } from '../shared/paths';
import { STACK_NAME } from '../shared/stack-name';
import { type Clock, LOCAL_CLOCK_SPEED, RealClock } from './clock';
import { CloudFormationApi } from './cloudformation/stack-api';
import {
  deployLocally,
  readTemplateFile,
  refuseCustomerManagedKeys,
  TemplateError,
} from './cloudformation/template';
import { LocalCloudWatch } from './cloudwatch/metrics';
import {
  LAUNCH_GATE_TABLE_OUTPUT,
  launchGateAtRest,
  type LaunchGateState,
  launchGateTableName,
  readLaunchGate,
} from './dynamodb/launch-gate-state';
import { openRecordExecutions, recordsAtRest } from './dynamodb/open-records';
import { type LocalDynamoDb, startLocalDynamoDb } from './dynamodb/server';
import { FargateQuotas } from './ecs/fargate-quotas';
import { type LaunchFaultOptions, LaunchFaults } from './ecs/launch-faults';
import { loadTaskDefinitions } from './ecs/task-definitions';
import { TaskNetwork } from './ecs/task-network';
import { LocalEcsTaskRunner } from './ecs/task-runner';
import { localAccess } from './endpoint/access';
import { type LocalEndpoint, startLocalEndpoint } from './endpoint/server';
import { DeadLetterStore } from './events/dead-letter-store';
import { LocalEventBus } from './events/event-bus';
import { EventBridgeApi } from './events/events-api';
import {
  findObjectCreatedRule,
  loadEventRules,
  loadObjectCreatedRule,
  type ObjectCreatedRule,
} from './events/rule-template';
import { EventBridgeRulesApi } from './events/rules-api';
import type { UndeliveredEvent } from './events/target-delivery';
import { checkGateFaultStates, type GateFault, GateFaults, type InjectedFaults } from './faults/gate-faults';
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
import { loadSchedules } from './scheduler/schedule-template';
import { LocalScheduler } from './scheduler/scheduler';
import { SqsApi } from './sqs/api';
import { type LocalQueue, LocalSqs } from './sqs/queues';
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
  type ServiceCallHook,
  type StartExecutionOptions,
} from './stepfunctions/executions';
import type { StatusChangeEvent } from './stepfunctions/status-change-event';
import { targetExecutionStarter } from './stepfunctions/target-executions';
import { readResult, writtenResult } from './worker-contract';

export type { ExecutionRecord, LaunchGateState, StatusChangeEvent, UndeliveredEvent };

/**
 * The whole pipeline on one machine: embedded S3 -> "Object Created" event -> the rule's pattern and
 * input transformer -> the state machine (the local Step Functions engine, its launch gate on the
 * local DynamoDB) -> the worker as a local ECS task; every other rule and schedule of the template
 * (the gate's cleanup on status changes, its reconciler) on the same bus and engine, all on one Clock.
 * Every piece of behaviour comes from the synthesized template, each service reading its own slice;
 * this module only wires the services together.
 */

/**
 * The faults a laptop never produces: Fargate's launch failures, a state machine EventBridge cannot
 * start, and the launch gate's lost answers, duplicates, throttling and missed status-change events.
 */
export interface FaultOptions extends LaunchFaultOptions {
  /** Events that can never start an execution (see LocalEventBusOptions.startFailures). */
  readonly startFailures?: number;
  /** Faults of the launch gate's calls and of the status-change events its cleanup needs (local/faults/gate-faults.ts). */
  readonly gate?: readonly GateFault[];
  /** Seeds the gate faults' rates: the same seed, the same faults. @default 1 */
  readonly seed?: number;
  /**
   * The first n "Object Created" events reach the bus twice, as EventBridge's at-least-once delivery
   * may deliver them: each delivery goes to every matching rule.
   */
  readonly duplicateEvents?: number;
}

/**
 * How many reconciler periods the gate is given, once the executions have ended, to come to rest:
 * one releases what missed events left and wakes a waiter left in line, the next finds what that
 * woken one's own ending left, the third is slack.
 */
export const GATE_REST_PERIODS = 3;

export const DEFAULT_BUCKET_NAME = 'local-pipeline-bucket';

export interface LocalPipelineOptions {
  /** The template `cdk synth` wrote (e.g. `.local/cdk.out/S3FargatePipeline.template.json`). */
  readonly templatePath: string;
  /** Where the embedded S3 server keeps objects. */
  readonly dataDir: string;
  /** Where the rule target's dead-letter queue keeps its messages across runs, one JSON file each. @default `dead-letters` beside dataDir */
  readonly deadLetterDir?: string;
  /**
   * Where the DynamoDB tables (the object records, the launch gate) are kept across runs, like the
   * journal (`npm start` keeps them in its data directory). @default - in memory, this run's only
   */
  readonly tablesDir?: string;
  /** Every execution, one JSON file each, kept across runs. @default `executions` beside dataDir */
  readonly journalDir?: string;
  /** The local endpoint's port on 127.0.0.1, for every service. @default 0 - any free port */
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
  /**
   * The rule's State: `DISABLED` delivers no event (objects written then are only seen by a backfill),
   * as `aws events disable-rule` does. @default 'ENABLED'
   */
  readonly ruleState?: 'ENABLED' | 'DISABLED';
  readonly faults?: FaultOptions;
  /** Each "Step Functions Execution Status Change" event (Standard executions), as the bus gets it. */
  readonly onExecutionStatusChange?: (event: StatusChangeEvent) => void;
  /** Called when an execution of an object has ended (SUCCEEDED, FAILED, TIMED_OUT or ABORTED); not for Express ones. */
  readonly onExecutionFinished?: (record: ExecutionRecord) => void;
  /**
   * Every Task state's service call but ECS's passes through it, after the gate faults: e.g. to stop
   * an execution in the middle of one call. @default - made as it is
   */
  readonly onServiceCall?: ServiceCallHook;
  /** Each line the worker writes (its CloudWatch Logs, locally). */
  readonly onWorkerLog?: (line: string, taskArn: string) => void;
  /** Called when the rule target gave up on an event (dead-lettered, or dropped without a queue). */
  readonly onUndelivered?: (undelivered: UndeliveredEvent) => void;
}

export interface LocalPipeline {
  /** The local endpoint's URL (S3, DynamoDB, SQS, CloudFormation, EventBridge rules...), e.g. `http://127.0.0.1:4566`. */
  readonly endpoint: string;
  readonly port: number;
  /** The local endpoint itself: `register` serves one more LocalAwsService on it. */
  readonly awsEndpoint: LocalEndpoint;
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
  /** The Step Functions API on it, served on the endpoint (signing name `states`). */
  readonly stepFunctionsApi: StepFunctionsApi;
  /** PutMetricData's data points, as the state machines sent them. */
  readonly cloudwatch: LocalCloudWatch;
  readonly clock: Clock;
  /** Writes an object into the watched bucket (its event starts an execution if the rule matches). */
  upload(key: string, body: string | Uint8Array): Promise<void>;
  /**
   * Puts an EventBridge event on the local bus; resolves to the first execution it started, if a rule
   * matched and the first delivery attempt started one (failed attempts are retried, then dead-lettered).
   */
  deliver(event: unknown): Promise<ExecutionRecord | undefined>;
  /**
   * Starts an execution of the event-driven state machine, as StartExecution does; throws
   * ExecutionAlreadyExists for a name used before.
   */
  startExecution(input: unknown, options?: StartExecutionOptions): ExecutionRecord;
  /** Resolves when no event is being converted or retried and no execution is running. */
  waitForIdle(): Promise<void>;
  /**
   * The executions of one object each: the workflow's, and a backfill's children; not the backfill
   * run itself, nor the gate's Express housekeeping (cleanup, reconciler).
   */
  executions(): readonly ExecutionRecord[];
  /** The most tasks that ran at once so far (bounded by the Fargate vCPU quotas). */
  peakRunningTasks(): number;
  /**
   * The launch gate at rest: waits until no execution runs, then (on the clock, at most
   * GATE_REST_PERIODS reconciler periods) until no execution holds or waits for a slot, and reads
   * the gate's table. What is left then is lost for good. undefined for a template without the gate.
   */
  gateAtRest(): Promise<LaunchGateState | undefined>;
  /**
   * This run's object records at rest: waits until no execution runs, then (on the clock, a sweep
   * period apart, while the records' sweep still closes some) until none is open, and returns how
   * many are: endings the recorder never heard of and the sweep did not repair. undefined for a
   * template without records.
   */
  recordsAtRest(): Promise<number | undefined>;
  /** How many gate faults were injected so far, per kind; undefined when none were asked for. */
  gateFaultsInjected(): InjectedFaults | undefined;
  /** Events the rule target gave up on during this run (see also `deadLetters`). */
  undelivered(): readonly UndeliveredEvent[];
  /** The rule target's dead-letter queue (a queue of `sqs`), kept across runs. */
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
  /**
   * Stops accepting events; `drain` (default) lets running executions finish first, otherwise they are
   * stopped as StopExecution stops them (ABORTED; their tasks get SIGTERM, SIGKILL after the stop
   * timeout). A second call returns the first's promise.
   */
  stop(options?: { readonly drain?: boolean }): Promise<void>;
  /** Kills every running task now (SIGKILL), for a stop that cannot wait (a second Ctrl-C). */
  killTasks(): void;
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const bucket = options.bucketName ?? DEFAULT_BUCKET_NAME;
  const template = readTemplateFile(options.templatePath);
  refuseCustomerManagedKeys(template, options.templatePath);
  const ruleMatch = findObjectCreatedRule(template);
  const workerCommand = options.workerCommand ?? [process.execPath, WORKER_BUNDLE];
  if (!options.workerCommand && !existsSync(WORKER_BUNDLE)) {
    throw new Error(`The worker bundle ${WORKER_BUNDLE} does not exist; build it with \`npm run build\``);
  }

  // Each task runs as a session of its task role, and the local S3 decides its every request with
  // that role's policies and the bucket policy, as S3 does; the local S3's own credentials (the
  // user's uploads, the emulator's reads) act as the account's administrator.
  const sessions = new RoleSessions();

  // One endpoint for every service, as LocalStack's edge port: S3 and DynamoDB mount their
  // handlers on it, the others are LocalAwsServices behind its protocol codecs (local/endpoint/).
  // It listens first: the template is deployed with queue URLs on it (see LocalDeploymentOptions.sqsEndpoint).
  const endpoint = await startLocalEndpoint({ port: options.port });
  const { deployment, gateTable, rule, stateMachine, backfill } = await closedOnError(endpoint, () => {
    const deployed = deployLocally(template, {
      region: LOCAL_REGION,
      bucketNames: { [ruleMatch.dataBucketLogicalId]: bucket },
      sqsEndpoint: endpoint.url,
    });
    const objectCreatedRule = loadObjectCreatedRule(deployed, ruleMatch);
    const gateTable = launchGateTableName(deployed);
    if (options.faults?.gate?.length && gateTable === undefined) {
      throw new TemplateError(
        `${options.templatePath} has no ${LAUNCH_GATE_TABLE_OUTPUT} output: there is no launch gate to inject faults into; run a template this app synthesized`,
      );
    }
    if (gateTable !== undefined && options.faults?.gate) {
      checkGateFaultStates(
        options.faults.gate,
        loadStateMachines(deployed).map((machine) => machine.definition),
        [gateTable],
      );
    }
    return {
      deployment: deployed,
      gateTable,
      rule: objectCreatedRule,
      stateMachine: loadStateMachine(deployed, objectCreatedRule.targetLogicalId),
      backfill: findBackfillStateMachine(deployed),
    };
  });
  const iam = new TemplateIam(deployment);
  endpoint.authorizeWith(localAccess({ admin: LOCAL_S3_CREDENTIALS, sessions, iam }));
  const server = await startLocalS3Server({
    endpoint: { url: endpoint.url, port: endpoint.port, serveS3: endpoint.serveS3 },
    directory: options.dataDir,
    buckets: [bucket],
    authorize: templateAccessControl({
      iam,
      sessions,
      unrestrictedAccessKeyId: LOCAL_S3_CREDENTIALS.accessKeyId,
      partition: deployment.partition,
      accountId: deployment.accountId,
    }),
  });
  const s3 = localS3Client(server.endpoint);
  const dynamodb = await startLocalDynamoDb(
    deployment,
    {
      url: endpoint.url,
      serveDynamoDb: endpoint.serveDynamoDb,
      credentials: LOCAL_S3_CREDENTIALS,
    },
    options.tablesDir,
  );
  const clock = options.clock ?? new RealClock(LOCAL_CLOCK_SPEED);
  const sqs = LocalSqs.fromDeployment(deployment, clock);

  const ecs = new LocalEcsTaskRunner({
    clock,
    taskDefinitions: loadTaskDefinitions(deployment),
    network: TaskNetwork.fromDeployment(deployment),
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

  const gateFaults =
    options.faults?.gate?.length && gateTable !== undefined
      ? new GateFaults({
          faults: options.faults.gate,
          seed: options.faults.seed ?? 1,
          tableNames: [gateTable],
        })
      : undefined;

  const deadLetters = new DeadLetterStore(
    options.deadLetterDir ?? join(dirname(options.dataDir), 'dead-letters'),
    deadLetterQueue(sqs, rule),
  );
  // EventBridge and EventBridge Scheduler: every rule and schedule of the template (the object rule,
  // the gate's cleanup on status changes, its reconciler), their targets reached through these calls.
  const stateMachines = loadStateMachines(deployment);
  const startTargetExecution = targetExecutionStarter(stateMachines, () => stepFunctions);
  const bus = new LocalEventBus<ExecutionRecord>({
    rules: loadEventRules(deployment),
    clock,
    ruleStates: options.ruleState && { [rule.ruleName]: options.ruleState },
    deadLetterQueue: () => deadLetters,
    startFailures: options.faults?.startFailures,
    missed: gateFaults?.missesEvent,
    targets: {
      startExecution: startTargetExecution,
      sendMessage: async (queueArn, body) => {
        const [queueId] = deployment
          .resourcesOfType('AWS::SQS::Queue')
          .find(([id]) => deployment.resolve({ 'Fn::GetAtt': [id, 'Arn'] }) === queueArn) ?? [queueArn];
        sqs.queue(deployment.ref(queueId)).sendMessage(body);
      },
    },
    onUndelivered: options.onUndelivered,
  });
  const events = new EventBridgeApi({
    rules: new EventBridgeRulesApi(deployment),
    put: (event) => void bus.put(event),
    clock,
    accountId: deployment.accountId,
    region: deployment.region,
  });

  const cloudwatch = new LocalCloudWatch(() => clock.now());
  const journal = new ExecutionJournal(options.journalDir ?? join(dirname(options.dataDir), 'executions'));
  const stepFunctions = new LocalStepFunctions({
    clock,
    journal,
    region: deployment.region,
    services: { dynamodb: dynamodb.stepFunctionsRequests, sqs, cloudwatch, events },
    // Every definition is checked before anything starts: one the engine cannot run is refused, named.
    stateMachines,
    itemReader: { s3, pageSize: options.listPageSize },
    onServiceCall: composeHooks(gateFaults?.onServiceCall, options.onServiceCall),
    // Step Functions puts its status changes on the default bus: the gate's cleanup rule sees them.
    onStatusChange: (event) => {
      options.onExecutionStatusChange?.(event);
      void bus.put(event);
    },
    runTask: async ({ record, stateName, parameters, signal, onSubmitted }) =>
      (await ecs.run({
        stateName,
        parameters,
        signal,
        onSubmitted: (response) => onSubmitted(response as Json),
        onAttempt: (attempt) => record.attempts.push(attempt),
      })) as Json,
    onExecutionFinished: async (record) => {
      if (record.express) return; // the gate's housekeeping: no object, no result
      if (record.status === 'SUCCEEDED')
        record.result = await writtenResult(s3, record.attempts.at(-1)?.environment);
      options.onExecutionFinished?.(record);
    },
  });

  endpoint.register(new SqsApi(sqs, deployment));
  endpoint.register(new CloudFormationApi(deployment, STACK_NAME, new Date(clock.now())));
  endpoint.register(events);
  endpoint.register(stepFunctions.api);

  const startExecution = (input: unknown, start?: StartExecutionOptions) =>
    stepFunctions.startExecution(stateMachine, input, start);
  const scheduled = loadSchedules(deployment);
  const schedules = new LocalScheduler({
    schedules: scheduled,
    clock,
    startExecution: startTargetExecution,
    onUndelivered: options.onUndelivered,
  });
  let accepting = true;
  let stopping: Promise<void> | undefined;
  const deliver = async (event: unknown) => (accepting ? (await bus.put(event))[0] : undefined);
  let duplicatesLeft = options.faults?.duplicateEvents ?? 0;
  const deliverObjectCreated = async (event: unknown) => {
    const twice = duplicatesLeft > 0;
    if (twice) duplicatesLeft--;
    const [first] = await Promise.all([deliver(event), twice ? deliver(event) : undefined]);
    return first;
  };

  const notifications = new S3EventNotifications(server, s3, {
    account: deployment.accountId,
    region: deployment.region,
    onEvent: (event) =>
      void deliverObjectCreated(event).catch((error: unknown) => bus.reportLocalFailure(event, error, rule)),
    onError: (notification, error) => bus.reportLocalFailure(notification, error, rule),
  });

  const waitForIdle = async () => {
    // Events become executions asynchronously (a HeadObject for copies), so wait until both are settled.
    for (;;) {
      await stepFunctions.onIdle();
      if (notifications.pending === 0 && bus.pending === 0 && schedules.pending === 0 && stepFunctions.idle)
        return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  // The template's schedules: the gate's reconciler, every minute (lib/launch-gate-reconciler.ts),
  // and the records' sweep, every 15 (lib/object-record-sweep.ts). The gate's rest is judged on the
  // most frequent, as the planner judges it; the records' on the least.
  const periods = scheduled.filter((s) => s.state === 'ENABLED').map((s) => s.rate.intervalMs);
  const reconcilerPeriodMs = periods.length ? Math.min(...periods) : 0;
  const sweepPeriodMs = periods.length ? Math.max(...periods) : 0;
  const recordsTable = deployment.output(OBJECT_RECORDS_TABLE_OUTPUT);
  const gateAtRest = async (): Promise<LaunchGateState | undefined> =>
    gateTable === undefined
      ? undefined
      : launchGateAtRest({
          clock,
          read: () => readLaunchGate(dynamodb.client, gateTable),
          settle: waitForIdle,
          periodMs: reconcilerPeriodMs,
          periods: GATE_REST_PERIODS,
        });
  const recordsRest = async (): Promise<number | undefined> =>
    recordsTable === undefined
      ? undefined
      : recordsAtRest({
          clock,
          // This run's: a record an earlier run left open (its journal gone) would hold every run up.
          count: async () => {
            const mine = new Set(stepFunctions.executions().map((e) => e.executionArn));
            const open = await openRecordExecutions(dynamodb.client, recordsTable, bucket);
            return open.filter((arn) => mine.has(arn)).length;
          },
          settle: waitForIdle,
          periodMs: sweepPeriodMs,
        });

  return {
    endpoint: endpoint.url,
    port: endpoint.port,
    awsEndpoint: endpoint,
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
    // A backfill run is an execution too, but of no object: its children are listed. Express
    // executions (the gate's cleanup and reconciler) are housekeeping, not objects.
    executions: () =>
      stepFunctions.executions().filter((e) => !e.express && e.stateMachineArn !== backfill?.arn),
    peakRunningTasks: () => ecs.peakRunningTasks,
    gateAtRest,
    recordsAtRest: recordsRest,
    gateFaultsInjected: () => gateFaults && { ...gateFaults.injected },
    undelivered: () => bus.undelivered(),
    deadLetters,
    journal,
    redriveExecution: (executionArn) => stepFunctions.redriveExecution(stateMachine, executionArn),
    readResult: (record) => readResult(s3, record.result),
    stop: (stopOptions) => (stopping ??= stop(stopOptions)),
    killTasks: () => ecs.killAll(),
  };

  async function stop({ drain = true } = {}): Promise<void> {
    accepting = false;
    notifications.stop();
    schedules.stop();
    if (!drain) stepFunctions.stopAll('The local pipeline was stopped without draining');
    await waitForIdle();
    await ecs.onIdle();
    s3.destroy();
    await Promise.all([server.close(), dynamodb.close()]);
    await endpoint.close();
  }
}

/** `outer` around `inner`: each call goes through `outer` first, whose `send` is `inner`'s. */
function composeHooks(
  outer: ServiceCallHook | undefined,
  inner: ServiceCallHook | undefined,
): ServiceCallHook | undefined {
  if (!outer || !inner) return outer ?? inner;
  return (call, send) => outer(call, () => inner(call, send));
}

/** `start()`, with the endpoint closed if it throws (a template the local pipeline cannot run). */
async function closedOnError<T>(endpoint: LocalEndpoint, start: () => T): Promise<T> {
  try {
    return start();
  } catch (error) {
    await endpoint.close();
    throw error;
  }
}

/** The queue of the rule target's DeadLetterConfig, which the stack always sets (lib/trigger.ts). */
function deadLetterQueue(sqs: LocalSqs, rule: ObjectCreatedRule): LocalQueue {
  const queue = rule.deadLetterQueueArn && sqs.named(rule.deadLetterQueueArn.split(':').pop()!);
  if (!queue) {
    throw new TemplateError(
      `The rule's target has no dead-letter queue of the template (DeadLetterConfig ${rule.deadLetterQueueArn ?? 'unset'}): the local pipeline runs the stack's, see lib/trigger.ts`,
    );
  }
  return queue;
}
