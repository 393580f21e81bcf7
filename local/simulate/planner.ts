import { OBJECT_RECORDS_TABLE_OUTPUT } from '../../shared/object-record';
import { deployLocally, readTemplateFile } from '../cloudformation/template';
import { launchGateTableName } from '../dynamodb/launch-gate-state';
import { loadTaskDefinitions } from '../ecs/task-definitions';
import { findObjectCreatedRule, loadEventRules, loadObjectCreatedRule } from '../events/rule-template';
import type { GateFault } from '../faults/gate-faults';
import { LOCAL_REGION } from '../s3/server';
import { loadSchedules } from '../scheduler/schedule-template';
import { queueSettings } from '../sqs/queue-messages';
import { loadStateMachine, loadStateMachines } from '../stepfunctions/definitions';
import { loadTableSchemas } from './dynamodb-items';
import type { Architecture } from './prices';
import { simulate, type SimulationOptions, type SimulationResult } from './simulation';

/** The capacity planner over a synthesized template: what `npm run simulate` and the bench run. */

/** What a synthesized template gives the simulation. */
type TemplateSlice =
  | 'definition'
  | 'stateMachineArn'
  | 'housekeeping'
  | 'taskDefinitions'
  | 'architecture'
  | 'queueSettings'
  | 'tableSchemas'
  | 'gateTableName'
  | 'recordsTableName'
  | 'bucket';

export interface PlannerOptions extends Omit<SimulationOptions, TemplateSlice> {
  readonly templatePath: string;
}

/**
 * The workflow the rule starts, its task definitions, their architecture, the queues and tables,
 * and the housekeeping beside it (every other rule, every schedule, and the state machines they
 * start: the gate's cleanup and reconciler), from a synthesized template.
 */
export function loadSimulatedWorkflow(templatePath: string): Pick<SimulationOptions, TemplateSlice> {
  const template = readTemplateFile(templatePath);
  const ruleMatch = findObjectCreatedRule(template);
  const deployment = deployLocally(template, { region: LOCAL_REGION });
  const rule = loadObjectCreatedRule(deployment, ruleMatch);
  const { definition, arn } = loadStateMachine(deployment, rule.targetLogicalId);
  const eventRules = loadEventRules(deployment).filter((r) => r.logicalId !== ruleMatch.ruleLogicalId);
  const schedules = loadSchedules(deployment);
  const targets = new Set([
    ...eventRules.flatMap((r) => r.targets.map((target) => target.arn)),
    ...schedules.map((schedule) => schedule.target.arn),
  ]);
  const taskDefinitions = loadTaskDefinitions(deployment);
  const architecture = taskDefinitions.find((t) => t.cpuArchitecture !== undefined)?.cpuArchitecture as
    Architecture | undefined;
  return {
    definition,
    stateMachineArn: arn,
    housekeeping: {
      stateMachines: loadStateMachines(deployment).filter((m) => m.arn !== arn && targets.has(m.arn)),
      eventRules,
      schedules,
    },
    taskDefinitions,
    architecture,
    queueSettings: queueSettings(deployment),
    tableSchemas: loadTableSchemas(deployment),
    gateTableName: launchGateTableName(deployment),
    recordsTableName: deployment.output(OBJECT_RECORDS_TABLE_OUTPUT),
    bucket: deployment.ref(ruleMatch.dataBucketLogicalId),
  };
}

/** Simulates a burst through the workflow of a synthesized template. */
export function simulateTemplate(options: PlannerOptions): Promise<SimulationResult> {
  return simulate({ ...options, ...loadSimulatedWorkflow(options.templatePath) });
}

/** The planner's rates (`--lost-answer-rate`, `--missed-event-rate`) as the one gate fault model takes them (local/faults/gate-faults.ts). */
export function gateFaultsOf(lostAnswerRate: number, missedEventRate: number): GateFault[] {
  // Offered lost-before first: lost-after strikes at its rate among the calls lost-before spared, so
  // together they lose the answers of lostAnswerRate of the calls.
  const before = lostAnswerRate / 2;
  const after = before === 1 ? 0 : before / (1 - before);
  return [
    { kind: 'lost-before' as const, amount: { rate: before } },
    { kind: 'lost-after' as const, amount: { rate: after } },
    { kind: 'missed-event' as const, amount: { rate: missedEventRate } },
  ].filter((fault) => fault.amount.rate > 0);
}

/** The result as `name  value` lines, with units and a hint where a figure needs one. */
export function formatResult(result: SimulationResult): string {
  const ratio = result.makespanSeconds / result.lowerBoundSeconds;
  const rows: Array<[string, string]> = [
    ['objects', String(result.objects)],
    ['succeeded', String(result.succeeded)],
    ['failed', String(result.failed)],
    ['stopped', `${result.stopped}  (--stop-rate: stopped while holding a slot; not failures)`],
    [
      'makespanSeconds',
      `${result.makespanSeconds}  (${hours(result.makespanSeconds)}; ${ratio.toFixed(2)}x the lower bound)`,
    ],
    ['lowerBoundSeconds', `${result.lowerBoundSeconds}  (${hours(result.lowerBoundSeconds)})`],
    [
      'fcfsMakespanSeconds',
      `${result.fcfsMakespanSeconds}  (a perfect first-come-first-served gate with the same task times)`,
    ],
    ['p50WaitSeconds', String(result.p50WaitSeconds)],
    ['p99WaitSeconds', String(result.p99WaitSeconds)],
    [
      'peakRunTaskCallsPerSecond',
      `${result.peakRunTaskCallsPerSecond}  (busiest 10 s; ${result.peakRunTaskCallsPerSecondAfterUploads} after the uploads)`,
    ],
    [
      'peakRunningTasks',
      `${result.peakRunningTasks}  (${result.peakTasksOfRunningExecutions} of running executions; at most ${result.peakStoppingTasks} stopping at once)`,
    ],
    ['meanLaunchAttempts', `${result.meanLaunchAttempts}  (max ${result.maxLaunchAttempts})`],
    ['peakWaitingExecutions', `${result.peakWaitingExecutions}  (in line for a launch slot)`],
    ['refusedTaskTokens', `${result.refusedTaskTokens}  (stale tokens: their wait had timed out)`],
    ['gateFaults', `${formatFaults(result)}  (struck, of --lost-answer-rate and --missed-event-rate)`],
    [
      'slotsLostAtRest',
      `${result.slotsLostAtRest}  (holders and waiter items left in the gate once everything is at rest)`,
    ],
    [
      'recordsOpenAtRest',
      `${result.recordsOpenAtRest}  (object records left open once the records' sweep has run: endings never recorded)`,
    ],
    [
      'maxIdleSlotSecondsWhileWaiting',
      `${result.maxIdleSlotSecondsWhileWaiting}  (the longest a slot stood free while someone waited)`,
    ],
    [
      'repairs',
      `${formatRepairs(result.repairs)}  (the reconciler's, in ${result.housekeepingRuns.bySchedules} scheduled runs; ${result.housekeepingRuns.byRules} runs of the cleanup rule)`,
    ],
    ['stateTransitions', String(result.stateTransitions)],
    [
      'requests',
      `${result.dynamodbWriteRequests} DynamoDB writes (and ${result.dynamodbIndexWriteRequests} to their indexes), ${result.dynamodbReadRequests} reads, ${result.sqsRequests} SQS, ${result.eventsPut} events put; ${result.messagesLeft} messages left`,
    ],
    [
      'costUsd',
      `${result.costUsd.toFixed(2)}  (Fargate, Step Functions, public IPv4, DynamoDB, SQS, EventBridge)`,
    ],
    [
      'waitCostUsd',
      `${result.waitCostUsd.toFixed(2)}  (${((result.waitCostUsd / result.objects) * 1000).toFixed(2)} per 1,000 objects)`,
    ],
    ['wallSeconds', String(result.wallSeconds)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}

function formatFaults(result: SimulationResult): string {
  const struck = Object.entries(result.gateFaultsInjected).filter(([, count]) => count > 0);
  return struck.length ? struck.map(([kind, count]) => `${kind} ${count}`).join(', ') : 'none';
}

function formatRepairs(repairs: Readonly<Record<string, number>>): string {
  const { Repairs: total = 0, ...kinds } = repairs;
  const detail = Object.entries(kinds).map(([name, count]) => `${name} ${count}`);
  return detail.length ? `${total}: ${detail.join(', ')}` : String(total);
}

function hours(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${(seconds / 60).toFixed(1)} min`;
}
