import { isPlainObject } from '../cloudformation/intrinsics';
import { type LocalDeployment, TemplateError } from '../cloudformation/template';
import { type TargetRetryPolicy, targetRetryPolicyOf } from '../events/rule-template';
import { parseScheduleExpression, type RateExpression, ScheduleExpressionError } from './schedule-expression';

/**
 * EventBridge Scheduler's slice of the template: every `AWS::Scheduler::Schedule`, with its rate,
 * state, time window and Step Functions target. What the local scheduler does not serve (another
 * kind of expression, another target, a dead-letter queue) is refused here, naming the schedule,
 * rather than run differently from AWS.
 */

export interface LocalSchedule {
  readonly logicalId: string;
  readonly name: string;
  /** `arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>`, for `<aws.scheduler.schedule-arn>`. */
  readonly arn: string;
  readonly state: 'ENABLED' | 'DISABLED';
  readonly rate: RateExpression;
  /** Each invocation comes at a random point of this window after its time; 0 for `Mode: OFF`. */
  readonly flexibleWindowMs: number;
  /** Milliseconds since the epoch. */
  readonly startDate?: number;
  readonly endDate?: number;
  readonly target: {
    /** The state machine StartExecution starts. */
    readonly arn: string;
    /** The target's `Input` text, context attributes (`<aws.scheduler.…>`) not yet filled in. */
    readonly input?: string;
    /** With Scheduler's defaults (185 attempts, 24 hours) where the template sets none. */
    readonly retryPolicy: TargetRetryPolicy;
  };
}

export function loadSchedules(deployment: LocalDeployment): LocalSchedule[] {
  return deployment
    .resourcesOfType('AWS::Scheduler::Schedule')
    .map(([logicalId]) => loadSchedule(deployment, logicalId));
}

function loadSchedule(deployment: LocalDeployment, logicalId: string): LocalSchedule {
  const properties = deployment.resolve(deployment.template.Resources[logicalId].Properties ?? {}) as Record<
    string,
    unknown
  >;
  const refuse = (problem: string) => new TemplateError(`Schedule ${logicalId} ${problem}`);
  let rate: RateExpression;
  try {
    rate = parseScheduleExpression(properties.ScheduleExpression);
  } catch (error) {
    if (!(error instanceof ScheduleExpressionError)) throw error;
    throw refuse(`has ScheduleExpression ${error.message}`);
  }
  const target = isPlainObject(properties.Target) ? properties.Target : {};
  const targetArn = String(target.Arn);
  if (!/^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:/.test(targetArn)) {
    throw refuse(
      `targets ${targetArn}; the local scheduler starts Step Functions state machines only ` +
        '(the templated StartExecution target): target a state machine, or add the target to local/scheduler/',
    );
  }
  if (target.DeadLetterConfig !== undefined) {
    throw refuse(
      'has a DeadLetterConfig; the local scheduler reports undelivered invocations but keeps no dead-letter ' +
        'queue for schedules: remove it, or add Scheduler dead letters to local/scheduler/',
    );
  }
  const name = typeof properties.Name === 'string' ? properties.Name : logicalId;
  const group = typeof properties.GroupName === 'string' ? properties.GroupName : 'default';
  return {
    logicalId,
    name,
    arn: `arn:${deployment.partition}:scheduler:${deployment.region}:${deployment.accountId}:schedule/${group}/${name}`,
    state: properties.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
    rate,
    flexibleWindowMs: flexibleWindowMs(properties.FlexibleTimeWindow, refuse),
    startDate: dateOf(properties.StartDate, 'StartDate', refuse),
    endDate: dateOf(properties.EndDate, 'EndDate', refuse),
    target: {
      arn: targetArn,
      input: typeof target.Input === 'string' ? target.Input : undefined,
      retryPolicy: targetRetryPolicyOf(target.RetryPolicy),
    },
  };
}

/** `{ Mode: 'OFF' }` or `{ Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1..1440 }`, as Scheduler accepts. */
function flexibleWindowMs(window: unknown, refuse: (problem: string) => Error): number {
  const given = isPlainObject(window) ? window : {};
  if (given.Mode === 'OFF') return 0;
  const minutes = given.MaximumWindowInMinutes;
  if (
    given.Mode === 'FLEXIBLE' &&
    Number.isInteger(minutes) &&
    Number(minutes) >= 1 &&
    Number(minutes) <= 1440
  ) {
    return Number(minutes) * 60_000;
  }
  throw refuse(
    `has FlexibleTimeWindow ${JSON.stringify(window)}; Scheduler needs { "Mode": "OFF" } or ` +
      '{ "Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1 to 1440 }',
  );
}

function dateOf(value: unknown, property: string, refuse: (problem: string) => Error): number | undefined {
  if (value === undefined) return undefined;
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw refuse(
      `has ${property} ${JSON.stringify(value)}, not a date; use ISO 8601, e.g. "2030-01-01T01:00:00Z"`,
    );
  }
  return time;
}
