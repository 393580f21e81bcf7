import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

import { AwsServiceError } from '../../../local/aws-service';
import { VirtualClock } from '../../../local/clock';
import {
  type CfnTemplate,
  deployLocally,
  type LocalDeployment,
  TemplateError,
} from '../../../local/cloudformation/template';
import type { UndeliveredEvent } from '../../../local/events/target-delivery';
import { LOCAL_REGION } from '../../../local/s3/server';
import { loadSchedules } from '../../../local/scheduler/schedule-template';
import { LocalScheduler } from '../../../local/scheduler/scheduler';

/**
 * Schedules as aws-cdk-lib's Schedule construct synthesizes them, run on a VirtualClock with the
 * randomness fixed at 0.5: every invocation time is exact.
 */

const T0 = Date.UTC(2026, 11, 1);
const MINUTE = 60_000;

/** A stack with one state machine (`Reconciler`) and whatever schedules `add` gives it, deployed locally. */
function deployWith(
  add: (stack: Stack, target: targets.StepFunctionsStartExecution) => void,
): LocalDeployment {
  const stack = new Stack();
  const stateMachine = new sfn.StateMachine(stack, 'Reconciler', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Reconcile')),
  });
  add(
    stack,
    new targets.StepFunctionsStartExecution(stateMachine, {
      input: scheduler.ScheduleTargetInput.fromObject({
        reason: 'reconcile',
        at: scheduler.ContextAttribute.scheduledTime,
        schedule: scheduler.ContextAttribute.scheduleArn,
        attempt: scheduler.ContextAttribute.attemptNumber,
      }),
    }),
  );
  return deployLocally(Template.fromStack(stack).toJSON() as CfnTemplate, { region: LOCAL_REGION });
}

const reconcilerArn = (deployment: LocalDeployment) =>
  deployment.ref(deployment.resourcesOfType('AWS::StepFunctions::StateMachine')[0][0]);

interface Call {
  readonly at: number;
  readonly arn: string;
  readonly input: { reason: string; at: string; schedule: string; attempt: string };
}

function run(deployment: LocalDeployment, fail?: (call: number) => Error | undefined) {
  const clock = new VirtualClock(T0);
  const calls: Call[] = [];
  const undelivered: UndeliveredEvent[] = [];
  const local = new LocalScheduler({
    schedules: loadSchedules(deployment),
    clock,
    random: () => 0.5,
    startExecution: async (arn, input) => {
      calls.push({ at: clock.now() - T0, arn, input: input as Call['input'] });
      const error = fail?.(calls.length);
      if (error) throw error;
      return `execution ${calls.length}`;
    },
    onUndelivered: (u) => undelivered.push(u),
  });
  return { clock, calls, undelivered, local };
}

test('rate(5 minutes) without a StartDate invokes at once and every 5 minutes, its Input filled in', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Every5', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(5)),
      target,
    });
  });
  const [schedule] = loadSchedules(deployment);
  const { clock, calls, local } = run(deployment);

  await clock.advance(15 * MINUTE);
  local.stop();

  expect(calls.map((c) => c.at)).toEqual([0, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE]);
  expect(calls[1]).toEqual({
    at: 5 * MINUTE,
    arn: reconcilerArn(deployment),
    input: { reason: 'reconcile', at: '2026-12-01T00:05:00Z', schedule: schedule.arn, attempt: '1' },
  });
  expect(schedule.arn).toBe(
    `arn:aws:scheduler:${LOCAL_REGION}:000000000000:schedule/default/${schedule.logicalId}`,
  );
  // aws-cdk-lib's defaults, as Scheduler's: no window, 185 attempts over 24 hours.
  expect(schedule).toMatchObject({
    flexibleWindowMs: 0,
    target: { retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 } },
  });
});

test('StartDate and EndDate bound the invocations; a past StartDate keeps its grid', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Later', {
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      target,
      start: new Date(T0 + 30 * MINUTE),
      end: new Date(T0 + 150 * MINUTE),
    });
    new scheduler.Schedule(stack, 'Earlier', {
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      target,
      start: new Date(T0 - 50 * MINUTE),
    });
  });
  const { clock, calls, local } = run(deployment);

  await clock.advance(4 * 60 * MINUTE);
  local.stop();

  const later = [30, 90, 150].map((m) => m * MINUTE); // 210 is past the EndDate
  const earlier = [10, 70, 130, 190].map((m) => m * MINUTE); // -50 + k hours
  expect(calls.map((c) => c.at).sort((a, b) => a - b)).toEqual([...later, ...earlier].sort((a, b) => a - b));
  expect(clock.pending).toBe(0);
});

test('a FLEXIBLE window puts each invocation a random point into it (here halfway)', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Flexible', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(30)),
      target,
      timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(10)),
    });
  });
  const { clock, calls, local } = run(deployment);

  await clock.advance(60 * MINUTE);
  local.stop();

  expect(calls.map((c) => c.at)).toEqual([5, 35].map((m) => m * MINUTE));
});

test('a DISABLED schedule never invokes', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Off', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target,
      enabled: false,
    });
  });
  const { clock, calls } = run(deployment);
  await clock.advance(10 * MINUTE);
  expect(calls).toEqual([]);
  expect(clock.pending).toBe(0);
});

test('a throttled StartExecution is retried on the backoff, the attempt number counting up', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Hourly', {
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      target,
    });
  });
  const { clock, calls, local, undelivered } = run(deployment, (call) =>
    call <= 2 ? new AwsServiceError('ThrottlingException', 'Rate exceeded') : undefined,
  );

  await clock.advance(10 * MINUTE);
  expect(local.pending).toBe(0);
  local.stop();

  expect(calls.map((c) => [c.at, c.input.attempt, c.input.at])).toEqual([
    [0, '1', '2026-12-01T00:00:00Z'],
    [500, '2', '2026-12-01T00:00:00Z'],
    [1500, '3', '2026-12-01T00:00:00Z'],
  ]);
  expect(undelivered).toEqual([]);
});

test('an invocation whose retries run out is reported, with the schedule and its time', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Hourly', {
      schedule: scheduler.ScheduleExpression.rate(Duration.hours(1)),
      target,
    });
  });
  const [schedule] = loadSchedules(deployment);
  const { clock, calls, local, undelivered } = run(
    deployment,
    () => new AwsServiceError('StateMachineDoesNotExist', 'gone'),
  );

  await clock.advance(MINUTE);
  local.stop();

  expect(calls).toHaveLength(1); // a missing target is not retried
  expect(undelivered).toEqual([
    {
      event: { scheduleArn: schedule.arn, scheduledTime: '2026-12-01T00:00:00Z' },
      file: undefined,
      attributes: {
        RULE_ARN: schedule.arn,
        TARGET_ARN: reconcilerArn(deployment),
        ERROR_CODE: 'RESOURCE_NOT_FOUND',
        ERROR_MESSAGE: 'gone (Error Code: StateMachineDoesNotExist; Status Code: 400)',
        RETRY_ATTEMPTS: '0',
      },
    },
  ]);
});

test('stop() ends every schedule: nothing more is invoked and no sleep is left on the clock', async () => {
  const deployment = deployWith((stack, target) => {
    new scheduler.Schedule(stack, 'Every1', {
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
      target,
    });
  });
  const { clock, calls, local } = run(deployment);
  await clock.advance(2 * MINUTE);
  local.stop();
  await clock.advance(10 * MINUTE);

  expect(calls.map((c) => c.at)).toEqual([0, MINUTE, 2 * MINUTE]);
  expect(clock.pending).toBe(0);
});

describe('what the local scheduler does not serve is refused when the template loads, naming the schedule', () => {
  const target = {
    Arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    RoleArn: 'arn:aws:iam::000000000000:role/r',
  };
  const deploy = (properties: Record<string, unknown>) =>
    deployLocally(
      {
        Resources: {
          Odd: {
            Type: 'AWS::Scheduler::Schedule',
            Properties: { FlexibleTimeWindow: { Mode: 'OFF' }, Target: target, ...properties },
          },
        },
      },
      { region: LOCAL_REGION },
    );
  test.each([
    [
      { ScheduleExpression: 'cron(0 12 * * ? *)' },
      'Schedule Odd has ScheduleExpression "cron(0 12 * * ? *)", a cron() expression; the local scheduler serves rate(value unit) only',
    ],
    [
      { ScheduleExpression: 'at(2030-01-01T00:00:00)' },
      'Schedule Odd has ScheduleExpression "at(2030-01-01T00:00:00)", a one-time at() expression',
    ],
    [
      { ScheduleExpression: 'rate(1 minutes)' },
      'a singular unit for 1 and a plural one above (e.g. "rate(1 minute)", "rate(5 minutes)")',
    ],
    [
      { ScheduleExpression: 'rate(5 weeks)' },
      'is not rate(value unit) with unit minute(s), hour(s) or day(s)',
    ],
    [
      {
        ScheduleExpression: 'rate(5 minutes)',
        Target: { ...target, Arn: 'arn:aws:lambda:us-east-1:000000000000:function:f' },
      },
      'Schedule Odd targets arn:aws:lambda:us-east-1:000000000000:function:f; the local scheduler starts Step Functions state machines only',
    ],
    [
      {
        ScheduleExpression: 'rate(5 minutes)',
        Target: { ...target, DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:000000000000:q' } },
      },
      'Schedule Odd has a DeadLetterConfig',
    ],
    [
      { ScheduleExpression: 'rate(5 minutes)', FlexibleTimeWindow: { Mode: 'FLEXIBLE' } },
      'Schedule Odd has FlexibleTimeWindow {"Mode":"FLEXIBLE"}; Scheduler needs',
    ],
    [
      { ScheduleExpression: 'rate(5 minutes)', StartDate: 'soon' },
      'Schedule Odd has StartDate "soon", not a date',
    ],
  ])('%j', (properties, message) => {
    const deployment = deploy(properties);
    expect(() => loadSchedules(deployment)).toThrow(TemplateError);
    expect(() => loadSchedules(deployment)).toThrow(message);
  });
});

test("the launch gate's reconciler schedule: no Input ({} is started), no retries, the next period tries again", async () => {
  const stack = new Stack();
  const stateMachine = new sfn.StateMachine(stack, 'Reconciler', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Reconcile')),
  });
  new scheduler.Schedule(stack, 'Schedule', {
    schedule: scheduler.ScheduleExpression.rate(Duration.minutes(1)),
    target: new targets.StepFunctionsStartExecution(stateMachine, { retryAttempts: 0 }),
  });
  const deployment = deployLocally(Template.fromStack(stack).toJSON() as CfnTemplate, {
    region: LOCAL_REGION,
  });
  const { clock, calls, local, undelivered } = run(deployment, (call) =>
    call === 1 ? new AwsServiceError('ThrottlingException', 'Rate exceeded') : undefined,
  );

  await clock.advance(MINUTE);
  local.stop();

  expect(calls.map((c) => [c.at, c.input])).toEqual([
    [0, {}],
    [MINUTE, {}],
  ]);
  expect(undelivered.map((u) => [u.attributes.ERROR_CODE, u.attributes.EXHAUSTED_RETRY_CONDITION])).toEqual([
    ['THROTTLING', 'MaximumRetryAttempts'],
  ]);
});
