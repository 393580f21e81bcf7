import { performance } from 'node:perf_hooks';

import { AwsServiceError, type LocalAwsService } from '../aws-service';
import { AutoClock, type Clock } from '../clock';
import { isPlainObject } from '../cloudformation/intrinsics';
import { LocalCloudWatch } from '../cloudwatch/metrics';
import {
  type CapacityType,
  FargateQuotas,
  LAUNCH_BURST,
  LAUNCH_REFILL_PER_SECOND,
  launchRefusalError,
  RUN_TASK_BURST,
  RUN_TASK_REFILL_PER_SECOND,
} from '../ecs/fargate-quotas';
import type { LocalTaskDefinition } from '../ecs/task-definitions';
import { placedOnSpot, type RunTaskParameters } from '../ecs/task-runner';
import { EventBridgeApi } from '../events/events-api';
import { type GateFault, GateFaultError, GateFaults, type InjectedFaults } from '../faults/gate-faults';
import type { QueueSettings } from '../sqs/queue-messages';
import { LocalSqs } from '../sqs/queues';
import { StatesError } from '../stepfunctions/asl/errors';
import type { Json } from '../stepfunctions/asl/paths';
import type {
  AslState,
  LocalStateMachineResource,
  StateMachineDefinition,
} from '../stepfunctions/definitions';
import { forEachState } from '../stepfunctions/definitions';
import { type ExecutionRecord, LocalStepFunctions } from '../stepfunctions/executions';
import { targetExecutionStarter } from '../stepfunctions/target-executions';
import { checkDynamoDbParameters, DynamoDbItems, type TableSchema } from './dynamodb-items';
import { type Housekeeping, PlannerHousekeeping } from './housekeeping';
import { IdleSlotWatch, launchGateIn, launchGateRepairs } from './launch-gate-watch';
import { type Architecture, PRICES } from './prices';

/**
 * A burst of uploads through the synthesized workflow, on the same engine as `npm start`
 * (local/stepfunctions), the same SQS model and task tokens, on a clock that moves by itself: every
 * execution runs the deployed definition (its Retry and Catch, its launch gate), every RunTask goes
 * through the same quota model as the local ECS, and each task that launches runs for a sampled
 * time instead of a worker process. Beside it runs the gate's housekeeping from the template
 * (housekeeping.ts: its cleanup rule on the status-change events, its reconciler on its schedule),
 * and the faults: stops of holders (the planner's own, through the engine's StopExecution), and the
 * gate's lost answers and missed events from the one gate fault model (local/faults/gate-faults.ts).
 * Two things are modelled rather than run: the task itself, and DynamoDB's storage
 * (dynamodb-items.ts: items in memory, expressions read by dynalite's own parsers, reached through
 * the same DynamoDB integrations as `npm start`; dynalite's store answers in 3 to 5 ms a call on this
 * machine, and the gate makes several per object). Service calls take no time. What it measures is
 * waiting: how long, how many calls, what it costs, and whether the gate leaks a slot or leaves one
 * idle while someone waits (launch-gate-watch.ts).
 */

export interface SimulationOptions {
  readonly definition: StateMachineDefinition;
  readonly taskDefinitions: readonly LocalTaskDefinition[];
  /** @default 'ARM64' */
  readonly architecture?: Architecture;
  readonly objects: number;
  /** Uploads spread evenly over this many seconds; 0: all at once. */
  readonly arrivalSeconds: number;
  readonly vcpuQuota: number;
  readonly spotVcpuQuota: number;
  /** Mean task time, Fargate's start included. */
  readonly taskSeconds: number;
  /** Coefficient of variation of task times (log-normal); 0: every task takes `taskSeconds`. */
  readonly taskSpread: number;
  readonly seed: number;
  /** The template's queues (queue-messages.ts `queueSettings`). @default none */
  readonly queueSettings?: readonly QueueSettings[];
  /** The template's tables by name (`loadTableSchemas`): what a Query orders by. @default none */
  readonly tableSchemas?: Readonly<Record<string, TableSchema>>;
  /** @default a clock that moves by itself from 0: the run takes as long as its work */
  readonly clock?: Clock;
  /** The workflow's ARN as deployed: what the gate's cleanup rule names. @default an ARN of no template */
  readonly stateMachineArn?: string;
  /**
   * The template's other rules, schedules and the state machines they start (the gate's cleanup on
   * status-change events, its reconciler every minute), run beside the burst on the same engine,
   * bus and clock. @default none
   */
  readonly housekeeping?: Housekeeping;
  /**
   * The share of objects whose execution is stopped (StopExecution: ABORTED, no Catch runs) at a
   * random moment of its task, while it holds a launch slot. @default 0
   */
  readonly stopRate?: number;
  /**
   * The launch gate's table (`launchGateTableName`): what the gate faults strike and the report
   * reads. @default none: no gate figures, and no gate faults can be asked for
   */
  readonly gateTableName?: string;
  /**
   * The bucket the objects are in, as the rule gives it to the workflow: the records' partition, the
   * one the records' sweep reads. @default 'simulated'
   */
  readonly bucket?: string;
  /**
   * The object records' table (`ObjectRecordsTableName`): the report counts the records left open at
   * rest, and the run goes on until the records' sweep has closed them. @default none
   */
  readonly recordsTableName?: string;
  /** Faults of the gate's calls and of the status-change events (local/faults/gate-faults.ts). @default none */
  readonly gateFaults?: readonly GateFault[];
  /**
   * How long each of the gate's calls takes on the clock before it takes effect. @default 0: calls
   * take no time, so executions that finish together never race for one waiter
   */
  readonly gateCallMs?: number;
}

export interface SimulationResult {
  readonly objects: number;
  readonly succeeded: number;
  /** Objects that did not succeed, the stopped ones aside. */
  readonly failed: number;
  /** The failed objects (`failed`), counted by their execution's error. */
  readonly failedWith: Readonly<Record<string, number>>;
  /** Objects stopped by `stopRate` (not failures of the run). */
  readonly stopped: number;
  /** First upload to last result. */
  readonly makespanSeconds: number;
  /** The best the quotas allow: the larger of the launch-rate bound and the vCPU-slot bound. */
  readonly lowerBoundSeconds: number;
  /** From upload to the launch of the task that ran. */
  readonly p50WaitSeconds: number;
  readonly p99WaitSeconds: number;
  /** RunTask calls (refused ones included) per second, the busiest 10-second window. */
  readonly peakRunTaskCallsPerSecond: number;
  /** The same, once the uploads are over (the waiting, not the arrival itself). */
  readonly peakRunTaskCallsPerSecondAfterUploads: number;
  /** Tasks running at once, those still stopping after their execution ended included. */
  readonly peakRunningTasks: number;
  /** Tasks running at once whose execution was still RUNNING: what the gate bounds by its slots. */
  readonly peakTasksOfRunningExecutions: number;
  /** Tasks stopping at once (their execution stopped; they hold their vCPU up to the stopTimeout). */
  readonly peakStoppingTasks: number;
  /** RunTask calls per object, retries included. */
  readonly meanLaunchAttempts: number;
  /** Most RunTask calls of one object. */
  readonly maxLaunchAttempts: number;
  /** States entered and Retry attempts made, as Step Functions bills them. */
  readonly stateTransitions: number;
  /**
   * Fargate, public IPv4, state transitions (Standard) and runs (Express: the gate's and the records'
   * housekeeping), DynamoDB request units (the writes to the tables' indexes included), SQS requests
   * and the events put (PutEvents).
   */
  readonly costUsd: number;
  /**
   * The part of costUsd spent because objects waited: every Retry attempt (the retried launches) and
   * the requests it makes, and the transitions and requests of the waiting path. The waiting path is
   * found from the definition, not by name: the states that wait on another execution (a callback
   * task, `.waitForTaskToken`; a poll of a queue for one, `sqs:receiveMessage`) and every state that
   * can only be reached through them, plus each later entry of a state this execution had already
   * passed that it re-enters from there (the second ReleaseLaunchSlot and IsAnyoneWaiting after a stale
   * token or an empty poll). Where an execution would go anyway (its one release, its Succeed) is not.
   * A request counts its own unit, not the index writes it causes (the waiter items' ByArrival entries).
   */
  readonly waitCostUsd: number;
  /** Most executions waiting for a task token at once (in line for a launch slot). */
  readonly peakWaitingExecutions: number;
  /** SendTaskSuccess/SendTaskFailure calls refused because the token's task was no longer waiting. */
  readonly refusedTaskTokens: number;
  readonly dynamodbWriteRequests: number;
  /**
   * The writes those took on the tables' secondary indexes (an entry put, deleted, or changed: two
   * when its index key changes), each billed as a write request unit as well.
   */
  readonly dynamodbIndexWriteRequests: number;
  readonly dynamodbReadRequests: number;
  readonly sqsRequests: number;
  /** Events put on the default bus by PutEvents (the object recorder's result events), each billed. */
  readonly eventsPut: number;
  /** The DynamoDB items when the last execution ended (the gate's count should be back to 0). */
  readonly finalItems: ReadonlyArray<{ readonly tableName: string; readonly item: Record<string, Json> }>;
  /** Messages left in the queues when the last execution ended, visible or not. */
  readonly messagesLeft: number;
  /**
   * Holders and waiter items left in the gate's table at rest: after the last object ended and the
   * scheduled runs that followed (until one repairs nothing). Each is a slot lost for good.
   */
  readonly slotsLostAtRest: number;
  /**
   * Object records still open at rest: after the records' sweep ran as long as some were (a day at
   * most). Each is an ending never recorded. 0 without a records table.
   */
  readonly recordsOpenAtRest: number;
  /** The longest time a slot stood free while someone waited (launch-gate-watch.ts). */
  readonly maxIdleSlotSecondsWhileWaiting: number;
  /** What the reconciler reported it repaired: its PutMetricData values summed by metric name. */
  readonly repairs: Readonly<Record<string, number>>;
  /** The gate faults that struck, per kind. */
  readonly gateFaultsInjected: InjectedFaults;
  /** Executions the housekeeping started: by its rules (the gate's cleanups), by its schedules (the reconciler's runs). */
  readonly housekeepingRuns: { readonly byRules: number; readonly bySchedules: number };
  /**
   * The makespan a perfect first-come-first-served gate would reach: the same task times, each object
   * started on the first of the account's slots to free up, with no latency, retries or launch limits.
   * Not a bound (another order could do better), but what the end of a burst costs at best when the
   * last tasks to start are long ones.
   */
  readonly fcfsMakespanSeconds: number;
  readonly wallSeconds: number;
}

const WINDOW_SECONDS = 10;
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow';

/** What the planner runs: the engine's integrations, with DynamoDB's items modelled in memory. */
const MODELLED_RESOURCES = [
  'ecs:runTask.sync',
  'dynamodb:updateItem',
  'dynamodb:putItem',
  'dynamodb:deleteItem',
  'dynamodb:getItem',
  'aws-sdk:dynamodb:updateItem',
  'aws-sdk:dynamodb:putItem',
  'aws-sdk:dynamodb:putItem.waitForTaskToken',
  'aws-sdk:dynamodb:deleteItem',
  'aws-sdk:dynamodb:getItem',
  'aws-sdk:dynamodb:query',
  'sqs:sendMessage',
  'sqs:sendMessage.waitForTaskToken',
  'aws-sdk:sqs:sendMessage',
  'aws-sdk:sqs:receiveMessage',
  'aws-sdk:sqs:deleteMessage',
  'aws-sdk:sfn:sendTaskSuccess',
  'aws-sdk:sfn:sendTaskFailure',
  'aws-sdk:sfn:sendTaskHeartbeat',
  'aws-sdk:sfn:describeExecution',
  'aws-sdk:cloudwatch:putMetricData',
  'events:putEvents',
  'states:startExecution',
];

/** The request parameters dynamodb-items.ts answers as DynamoDB does; another would be ignored. */
const MODELLED_DYNAMODB_PARAMETERS = [
  'TableName',
  'Key',
  'Item',
  'IndexName',
  'UpdateExpression',
  'ConditionExpression',
  'KeyConditionExpression',
  'ExpressionAttributeNames',
  'ExpressionAttributeValues',
  'ProjectionExpression',
  'ReturnValues',
  'ConsistentRead',
  'Limit',
  'ScanIndexForward',
];

export class UnsupportedWorkflowError extends Error {
  constructor(
    state: string,
    what: string,
    fix = `it models Task states calling ${MODELLED_RESOURCES.join(', ')}`,
  ) {
    super(`State "${state}": ${what} is not modelled by the planner (local/simulate/simulation.ts); ${fix}`);
    this.name = 'UnsupportedWorkflowError';
  }
}

/**
 * Throws UnsupportedWorkflowError for the first Task the planner cannot model (the engine checks the
 * rest). A DynamoDB call's request is its Parameters, or a JSONata state's Arguments; Arguments
 * that JSONata writes whole exist only at run time, where the modelled DynamoDB refuses what
 * DynamoDB would.
 */
export function checkSupported(definition: StateMachineDefinition): void {
  forEachState(definition, (state, name) => {
    if (state.Type !== 'Task') return;
    const resource = taskResource(state);
    if (/^aws-sdk:s3:[a-zA-Z]*Tagging$/.test(resource)) {
      throw new UnsupportedWorkflowError(
        name,
        `S3 object tagging (${resource}, -c tagInputObjects=true)`,
        'simulate the stack without tagInputObjects (its S3 requests are not counted either)',
      );
    }
    if (!MODELLED_RESOURCES.includes(resource))
      throw new UnsupportedWorkflowError(name, `Task resource ${String(state.Resource)}`);
    if (/(^|:)dynamodb:/.test(resource)) {
      const request = state.Arguments ?? state.Parameters ?? {};
      if (!isPlainObject(request)) return;
      const parameters = request as Record<string, Json>;
      const unmodelled = Object.keys(parameters)
        .map((key) => key.replace(/\.\$$/, ''))
        .find((key) => !MODELLED_DYNAMODB_PARAMETERS.includes(key));
      if (unmodelled) throw new UnsupportedWorkflowError(name, `the ${resource} parameter ${unmodelled}`);
      const problem = checkDynamoDbParameters(parameters);
      if (problem) throw new UnsupportedWorkflowError(name, problem);
    }
  });
}

/** `arn:aws:states:::dynamodb:updateItem` → `dynamodb:updateItem`. */
function taskResource(state: AslState): string {
  return /^arn:[^:]+:states:::(.+)$/.exec(String(state.Resource))?.[1] ?? String(state.Resource);
}

/** The EventBridge rules API (DescribeRule...): no state machine of the template calls it. */
const NO_RULES_API: LocalAwsService = {
  signingName: 'events',
  call: async (action) => {
    throw new AwsServiceError(
      'UnknownOperationException',
      `The planner's EventBridge serves PutEvents, not ${action}`,
    );
  },
};

/** DynamoDB as the engine's DynamoDB integrations call it (`client.send(command)`), on the modelled items. */
function modelledDynamoDb(items: DynamoDbItems, afterWrite: () => void) {
  const actions: Record<string, (input: Record<string, Json>) => Json> = {
    UpdateItemCommand: (input) => items.updateItem(input),
    PutItemCommand: (input) => items.putItem(input),
    DeleteItemCommand: (input) => items.deleteItem(input),
    GetItemCommand: (input) => items.getItem(input),
    QueryCommand: (input) => items.query(input),
  };
  return {
    send: async (command: { constructor: { name: string }; input: Record<string, Json> }) => {
      const action = actions[command.constructor.name];
      if (!action) {
        throw new Error(
          `The planner models DynamoDB ${Object.keys(actions).join(', ')}, not ${command.constructor.name}`,
        );
      }
      const answer = action(command.input);
      if (command.constructor.name !== 'GetItemCommand' && command.constructor.name !== 'QueryCommand')
        afterWrite();
      return answer;
    },
  };
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const wallStart = performance.now();
  const { definition } = options;
  const workflow: LocalStateMachineResource = {
    logicalId: 'Workflow',
    arn: options.stateMachineArn ?? STATE_MACHINE_ARN,
    definition,
  };
  const housekeeping = options.housekeeping ?? { stateMachines: [], eventRules: [], schedules: [] };
  for (const machine of [workflow, ...housekeeping.stateMachines]) checkSupported(machine.definition);
  const waitingStates = waitingPathStates(definition);
  // Three streams from the one seed: the task times (and the engine's jitter) as before faults
  // existed, so a fault rate changes nothing else of a run; the schedules' phase and EventBridge's
  // retries; the faults.
  const random = mulberry32(options.seed);
  const housekeepingRandom = mulberry32(options.seed ^ 0x48535250);
  const faultRandom = mulberry32(options.seed ^ 0x46415554);
  const clock = options.clock ?? new AutoClock(0);
  const startedAt = clock.now();
  const quotas = new FargateQuotas({ vcpuQuota: options.vcpuQuota, spotVcpuQuota: options.spotVcpuQuota }, 0);
  const items = new DynamoDbItems(options.tableSchemas);
  const sqs = new LocalSqs(options.queueSettings ?? [], clock);
  const cloudwatch = new LocalCloudWatch(() => clock.now());
  const architecture = options.architecture ?? 'ARM64';
  const callsPerWindow: number[] = [];
  const taskSecondsRan: number[] = [];
  let fargateUsd = 0;
  let ipv4Usd = 0;
  const capacitiesUsed = new Set<CapacityType>();
  const launchAttempts = new Map<ExecutionRecord, number>();
  const launchedAt = new Map<ExecutionRecord, number>();
  // Each object's fault, drawn up front in object order: whether it is stopped while it holds a
  // slot, and how far into its task.
  const stopAt = new Map<string, number>();
  for (let i = 0; i < options.objects; i++) {
    const [stops, fraction] = [faultRandom(), faultRandom()];
    if (stops < (options.stopRate ?? 0)) stopAt.set(`object-${i}`, fraction);
  }
  const stoppedByPlanner = new Set<ExecutionRecord>();
  const tasks = { running: 0, stopping: 0, peakOfRunningExecutions: 0, peakStopping: 0 };
  const draining: Array<Promise<void>> = [];

  const gateTable = options.gateTableName;
  if (options.gateFaults?.length && gateTable === undefined) {
    throw new GateFaultError(
      'Gate faults were asked for, but the template has no launch gate (no LaunchSlotsTable output): simulate a template this app synthesized',
    );
  }
  const gateFaults = new GateFaults({
    faults: options.gateFaults ?? [],
    seed: options.seed,
    tableNames: gateTable === undefined ? [] : [gateTable],
    callLatency: { ms: options.gateCallMs ?? 0, sleep: (ms) => clock.sleep(ms) },
  });
  let watch: IdleSlotWatch | undefined;
  const observe = () => watch?.observe(clock.now());
  const startTarget = targetExecutionStarter([workflow, ...housekeeping.stateMachines], () => stepFunctions);
  // The recorder's result events go on the same default bus as the status changes (no rule of the
  // template matches them: nothing re-triggers the pipeline), each entry a billed event.
  let eventsPut = 0;
  const [, , , region, accountId] = workflow.arn.split(':');
  const events = new EventBridgeApi({
    rules: NO_RULES_API,
    put: (event) => {
      eventsPut++;
      beside.put(event);
    },
    clock,
    accountId,
    region,
  });

  const stepFunctions: LocalStepFunctions = new LocalStepFunctions({
    clock,
    random,
    services: { dynamodb: modelledDynamoDb(items, observe) as never, sqs, cloudwatch, events },
    stateMachines: [workflow, ...housekeeping.stateMachines],
    onServiceCall: gateFaults.active ? gateFaults.onServiceCall : undefined,
    // Step Functions puts its status changes on the default bus: the gate's cleanup rule sees them.
    onStatusChange: (event) => {
      observe();
      beside.put(event);
    },
    // The task, modelled: the same quotas as the local ECS, then a sampled time on the clock.
    runTask: async ({ record, parameters: raw, signal, onSubmitted }) => {
      observe();
      const parameters = raw as unknown as RunTaskParameters & {
        NetworkConfiguration?: { AwsvpcConfiguration?: { AssignPublicIp?: string } };
      };
      const capacity: CapacityType = placedOnSpot(parameters) ? 'FARGATE_SPOT' : 'FARGATE';
      const taskDefinition = taskDefinitionOf(options.taskDefinitions, parameters.TaskDefinition);
      const cpuUnits = Number(taskDefinition.cpu ?? 256);
      launchAttempts.set(record, (launchAttempts.get(record) ?? 0) + 1);
      const launched = clock.now();
      const nowSeconds = (launched - startedAt) / 1000;
      const window = Math.floor(nowSeconds / WINDOW_SECONDS);
      callsPerWindow[window] = (callsPerWindow[window] ?? 0) + 1;
      const refusal = quotas.runTask(capacity, cpuUnits, nowSeconds);
      if (refusal) {
        const error = launchRefusalError(refusal, 'simulated');
        throw new StatesError(error.name, error.cause);
      }
      capacitiesUsed.add(capacity);
      const taskArn = `arn:aws:ecs:simulated:task/${record.name}`;
      onSubmitted({
        Tasks: [{ TaskArn: taskArn, LastStatus: 'PROVISIONING', CreatedAt: launched }],
        Failures: [],
      });
      if (!launchedAt.has(record)) launchedAt.set(record, nowSeconds);
      const seconds = sampleTaskSeconds(options.taskSeconds, options.taskSpread, random);
      tasks.running++;
      tasks.peakOfRunningExecutions = Math.max(tasks.peakOfRunningExecutions, tasks.running - tasks.stopping);
      const stopFraction = stopAt.get(record.name);
      if (stopFraction !== undefined && !stoppedByPlanner.has(record)) {
        stoppedByPlanner.add(record);
        clock.sleep(stopFraction * seconds * 1000, signal).then(
          () => stepFunctions.stopExecution(record.executionArn, 'Planner.Stopped', 'Stopped by --stop-rate'),
          () => undefined,
        );
      }
      const bill = (ranSeconds: number) => {
        const billedHours = Math.max(PRICES.minimumBilledSeconds, ranSeconds) / 3600;
        const fargateHour =
          (cpuUnits / 1024) * PRICES.fargateVcpuHour[architecture] +
          (Number(taskDefinition.memory ?? 512) / 1024) * PRICES.fargateGbHour[architecture];
        fargateUsd += fargateHour * billedHours * (capacity === 'FARGATE_SPOT' ? PRICES.spotFactor : 1);
        if (parameters.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED') {
          ipv4Usd += PRICES.publicIpv4Hour * billedHours;
        }
      };
      try {
        await clock.sleep(seconds * 1000, signal);
      } catch (stop) {
        // Stopped early (its execution stopped, or its state timed out): ECS sends SIGTERM and the
        // task keeps its vCPU until its worker exits, at most the container's stopTimeout later; the
        // planner takes the most, never less than AWS would.
        const ran = (clock.now() - launched) / 1000;
        const stopTimeoutSeconds = Math.max(0, ...taskDefinition.containers.map((c) => c.stopTimeoutSeconds));
        const drainSeconds = Math.min(seconds - ran, stopTimeoutSeconds);
        taskSecondsRan.push(ran);
        tasks.stopping++;
        tasks.peakStopping = Math.max(tasks.peakStopping, tasks.stopping);
        draining.push(
          clock.sleep(drainSeconds * 1000).then(() => {
            tasks.stopping--;
            tasks.running--;
            quotas.release(capacity, cpuUnits);
            bill(ran + drainSeconds);
          }),
        );
        throw stop;
      }
      tasks.running--;
      quotas.release(capacity, cpuUnits);
      taskSecondsRan.push(seconds);
      bill(seconds);
      // The stopped task as DescribeTasks gives it, for the state's ResultSelector: its worker exited
      // 0; its times in epoch milliseconds on the simulation's clock. The sampled time includes
      // Fargate's start, so the task started when it was created (as the local ECS says too).
      return {
        TaskArn: taskArn,
        StopCode: 'EssentialContainerExited',
        StoppedReason: 'Essential container in task exited',
        Containers: [{ ExitCode: 0 }],
        CreatedAt: launched,
        StartedAt: launched,
        StoppedAt: clock.now(),
      };
    },
  });
  // Started once the engine has accepted every definition: its schedules run on the clock until
  // untilAtRest stops them, so a refused definition must not leave them running (on an AutoClock, forever).
  const beside = new PlannerHousekeeping({
    housekeeping,
    clock,
    random: housekeepingRandom,
    startExecution: startTarget,
    missed: gateFaults.active ? gateFaults.missesEvent : undefined,
  });
  if (gateTable) {
    watch = new IdleSlotWatch(items, gateTable, stepFunctions.tokens, (arn) => stepFunctions.execution(arn));
  }

  const arrivals: number[] = [];
  const finished: Array<Promise<void>> = [];
  for (let i = 0; i < options.objects; i++) {
    const arrivedAt = options.objects <= 1 ? 0 : (i * options.arrivalSeconds) / options.objects;
    arrivals.push(arrivedAt);
    const input = {
      bucket: options.bucket ?? 'simulated',
      key: `incoming/object-${i}`,
      etag: '',
      versionId: '',
    };
    finished.push(
      clock
        .sleep(arrivedAt * 1000)
        .then(() =>
          stepFunctions.finished(stepFunctions.startExecution(workflow, input, { name: `object-${i}` })),
        ),
    );
  }
  await Promise.all(finished);
  const lastEnded = clock.now();
  const repairCount = () => Object.values(launchGateRepairs(cloudwatch)).reduce((a, b) => a + b, 0);
  // A record is open (in the sweep's index) from its put until the recorder writes its ending.
  const recordsTable = options.recordsTableName;
  const openRecords = () =>
    recordsTable === undefined ? 0 : items.count(recordsTable, (item) => item.openSince !== undefined);
  await beside.untilAtRest(
    lastEnded,
    (record) => stepFunctions.finished(record),
    repairCount,
    () => openRecords() > 0,
  );
  for (;;) {
    await stepFunctions.onIdle();
    await Promise.all(draining);
    if (beside.pending === 0 && stepFunctions.idle) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  observe();

  const all = stepFunctions.executions();
  const executions = all.filter((e) => e.stateMachineArn === workflow.arn);
  const expressRuns = all.filter((e) => e.express);
  const costs = historyCosts(executions, waitingStates);
  const succeeded = executions.filter((e) => e.status === 'SUCCEEDED').length;
  const stopped = executions.filter((e) => stoppedByPlanner.has(e) && e.status === 'ABORTED').length;
  const arrivalOf = (record: ExecutionRecord) => (record.startDate - startedAt) / 1000;
  const waits = executions
    .filter((e) => launchedAt.has(e))
    .map((e) => launchedAt.get(e)! - arrivalOf(e))
    .sort((a, b) => a - b);
  const attempts = executions.map((e) => launchAttempts.get(e) ?? 0);
  const lastResult = Math.max(0, ...executions.map((e) => ((e.stopDate ?? startedAt) - startedAt) / 1000));
  const firstUpload = arrivals[0] ?? 0;
  const cpuUnits = Number(options.taskDefinitions[0]?.cpu ?? 256);
  const slots = [...(capacitiesUsed.size ? capacitiesUsed : ['FARGATE' as const])].reduce(
    (sum, capacity) => sum + quotas.slots(capacity, cpuUnits),
    0,
  );
  const launchBound = Math.max(
    (options.objects - RUN_TASK_BURST) / RUN_TASK_REFILL_PER_SECOND,
    (options.objects - LAUNCH_BURST * capacitiesUsed.size) /
      (LAUNCH_REFILL_PER_SECOND * Math.max(1, capacitiesUsed.size)),
    0,
  );
  const uploadWindows = Math.floor(options.arrivalSeconds / WINDOW_SECONDS) + 1;
  const perSecond = (windows: number[]) =>
    Math.max(0, ...Array.from(windows, (c) => (c ?? 0) / WINDOW_SECONDS));
  const finalItems = items.snapshot();
  const gateAtRest = gateTable ? launchGateIn(finalItems, gateTable) : { holders: 0, waiters: 0 };
  const sqsRequests = sqs.all().reduce((sum, queue) => sum + queue.requests, 0);
  const servicesUsd =
    costs.transitions * PRICES.stateTransition +
    expressRuns.reduce((sum, run) => sum + expressPrice(run), 0) +
    (items.writeRequests + items.indexWriteRequests) * PRICES.dynamodbWriteRequestUnit +
    items.readRequests * PRICES.dynamodbReadRequestUnit +
    sqsRequests * PRICES.sqsRequest +
    eventsPut * PRICES.eventBridgeEvent;
  return {
    objects: options.objects,
    succeeded,
    failed: options.objects - succeeded - stopped,
    failedWith: countBy(
      executions.filter(
        (e) => e.status !== 'SUCCEEDED' && !(stoppedByPlanner.has(e) && e.status === 'ABORTED'),
      ),
      (e) => String(e.error),
    ),
    stopped,
    makespanSeconds: round(lastResult - firstUpload),
    lowerBoundSeconds: round(Math.max(launchBound, slots > 0 ? sum(taskSecondsRan) / slots : Infinity)),
    p50WaitSeconds: round(percentile(waits, 0.5)),
    p99WaitSeconds: round(percentile(waits, 0.99)),
    peakRunTaskCallsPerSecond: round(perSecond(callsPerWindow)),
    peakRunTaskCallsPerSecondAfterUploads: round(perSecond(callsPerWindow.slice(uploadWindows))),
    peakRunningTasks: quotas.peakRunningTasks,
    peakTasksOfRunningExecutions: tasks.peakOfRunningExecutions,
    peakStoppingTasks: tasks.peakStopping,
    meanLaunchAttempts: round(attempts.reduce((a, b) => a + b, 0) / Math.max(1, attempts.length)),
    maxLaunchAttempts: Math.max(0, ...attempts),
    stateTransitions: costs.transitions,
    costUsd: round(fargateUsd + ipv4Usd + servicesUsd, 4),
    waitCostUsd: round(costs.waitUsd, 4),
    peakWaitingExecutions: stepFunctions.tokens.peakWaiting,
    refusedTaskTokens: costs.refusedTokens,
    dynamodbWriteRequests: items.writeRequests,
    dynamodbIndexWriteRequests: items.indexWriteRequests,
    dynamodbReadRequests: items.readRequests,
    sqsRequests,
    eventsPut,
    finalItems,
    slotsLostAtRest: gateAtRest.holders + gateAtRest.waiters,
    recordsOpenAtRest: openRecords(),
    maxIdleSlotSecondsWhileWaiting: round(watch?.longestSeconds(clock.now()) ?? 0),
    repairs: launchGateRepairs(cloudwatch),
    gateFaultsInjected: { ...gateFaults.injected },
    housekeepingRuns: { byRules: beside.byRules, bySchedules: beside.bySchedules },
    messagesLeft: sqs.all().reduce((sum, queue) => sum + queue.size, 0),
    fcfsMakespanSeconds: round(fcfsMakespan(arrivals, taskSecondsRan, slots) - firstUpload),
    wallSeconds: round((performance.now() - wallStart) / 1000),
  };
}

/** An Express execution's price: its request, and its duration billed in 100 ms steps at 64 MB. */
function expressPrice(run: ExecutionRecord): number {
  const billedSeconds = Math.max(1, Math.ceil((run.durationMs ?? 0) / 100)) / 10;
  return PRICES.expressRequest + billedSeconds * PRICES.expressGbSecond * (64 / 1024);
}

function countBy<T>(values: readonly T[], key: (value: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[key(value)] = (counts[key(value)] ?? 0) + 1;
  return counts;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * State transitions and the wait cost, read from each execution's history as Step Functions bills
 * it: a transition per state entered and per Retry attempt (a TaskScheduled after the first of its
 * state), a request price per service call; the part on the waiting path (see waitCostUsd) or
 * retrying is waiting. Refused task tokens are the TaskFailed of a stale token.
 */
function historyCosts(
  executions: readonly ExecutionRecord[],
  waitingStates: ReadonlySet<string>,
): { transitions: number; waitUsd: number; refusedTokens: number } {
  let transitions = 0;
  let waitUsd = 0;
  let refusedTokens = 0;
  for (const execution of executions) {
    const visited = new Set<string>();
    let onWaitingPath = false;
    let retrying = false;
    let scheduled = 0;
    const charge = (usd: number) => {
      if (onWaitingPath || retrying) waitUsd += usd;
    };
    for (const event of execution.history.events) {
      if (event.type.endsWith('StateEntered')) {
        const name = String((event.stateEnteredEventDetails as { name: string }).name);
        transitions++;
        onWaitingPath = waitingStates.has(name) || (onWaitingPath && visited.has(name));
        visited.add(name);
        retrying = false;
        scheduled = 0;
        charge(PRICES.stateTransition);
      } else if (event.type === 'TaskScheduled') {
        const details = event.taskScheduledEventDetails as { resourceType: string; resource: string };
        if (++scheduled > 1) {
          transitions++;
          retrying = true;
          charge(PRICES.stateTransition);
        }
        charge(requestPrice(`${details.resourceType}:${details.resource}`));
      } else if (event.type === 'TaskFailed') {
        const { error } = event.taskFailedEventDetails as { error: string };
        if (error === 'Sfn.TaskTimedOutException' || error === 'Sfn.InvalidTokenException') refusedTokens++;
      }
    }
  }
  return { transitions, waitUsd, refusedTokens };
}

/** What one call of `resource` (`dynamodb:updateItem`, `aws-sdk:sqs:receiveMessage`) is billed, beside its state transition. */
function requestPrice(resource: string): number {
  if (resource.endsWith('dynamodb:query') || resource.endsWith('dynamodb:getItem'))
    return PRICES.dynamodbReadRequestUnit;
  if (/(^|:)dynamodb:/.test(resource)) return PRICES.dynamodbWriteRequestUnit;
  return /(^|:)sqs:/.test(resource) ? PRICES.sqsRequest : 0;
}

/**
 * The states on the waiting path (see waitCostUsd): those that wait on another execution (a callback
 * task, a poll of a queue) and those reachable from StartAt only through one of them or through a
 * Choice branch taken because a query of the line found someone (the hand-on: every rule of a Choice
 * that follows a `dynamodb:query`, its Default aside).
 */
export function waitingPathStates(definition: StateMachineDefinition): Set<string> {
  const waits = (state: AslState) => {
    const resource = taskResource(state);
    return resource.endsWith('.waitForTaskToken') || resource.endsWith(':receiveMessage');
  };
  const lineChoices = new Set(
    Object.values(definition.States)
      .filter((state) => taskResource(state).endsWith('dynamodb:query') && typeof state.Next === 'string')
      .map((state) => String(state.Next)),
  );
  const direct = new Set<string>();
  for (const stack = [String(definition.StartAt)]; stack.length > 0;) {
    const name = stack.pop()!;
    const state = definition.States[name];
    if (direct.has(name) || waits(state)) continue;
    direct.add(name);
    stack.push(...(lineChoices.has(name) ? [state.Default as string] : successors(state)));
  }
  return new Set(Object.keys(definition.States).filter((name) => !direct.has(name)));
}

function successors(state: AslState): string[] {
  const rules = (state.Choices as Array<{ Next: string }> | undefined) ?? [];
  const catchers = (state.Catch as Array<{ Next: string }> | undefined) ?? [];
  return [state.Next, state.Default, ...rules.map((r) => r.Next), ...catchers.map((c) => c.Next)].filter(
    (name): name is string => typeof name === 'string',
  );
}

/** Each object, in arrival order, on the first of `slots` to free up, for the task times in launch order. */
function fcfsMakespan(arrivals: readonly number[], taskSeconds: readonly number[], slots: number): number {
  if (slots <= 0) return Infinity;
  const free = new Array<number>(slots).fill(0);
  let end = 0;
  taskSeconds.forEach((seconds, i) => {
    let earliest = 0;
    for (let slot = 1; slot < slots; slot++) if (free[slot] < free[earliest]) earliest = slot;
    free[earliest] = Math.max(free[earliest], arrivals[i] ?? 0) + seconds;
    end = Math.max(end, free[earliest]);
  });
  return end;
}

function taskDefinitionOf(
  taskDefinitions: readonly LocalTaskDefinition[],
  reference: string,
): LocalTaskDefinition {
  const family = reference.replace(/^arn:[^:]+:ecs:[^:]*:[^:]*:task-definition\//, '').replace(/:\d+$/, '');
  const found = taskDefinitions.find((t) => t.family === family);
  if (!found) throw new Error(`TaskDefinition ${reference} is not a task definition of the template`);
  return found;
}

/** Log-normal with the given mean and coefficient of variation: task times are skewed to the right. */
function sampleTaskSeconds(mean: number, spread: number, random: () => number): number {
  if (spread === 0) return mean;
  const sigma2 = Math.log(1 + spread * spread);
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.exp(Math.log(mean) - sigma2 / 2 + Math.sqrt(sigma2) * normal);
}

/** The nearest-rank percentile `p` (0 to 1) of values sorted in ascending order; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A small seeded PRNG (mulberry32), so a run is reproducible from its --seed. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
