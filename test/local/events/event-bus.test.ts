import { readFileSync } from 'node:fs';

import { AwsServiceError } from '../../../local/aws-service';
import { VirtualClock } from '../../../local/clock';
import {
  type CfnResource,
  type CfnTemplate,
  deployLocally,
  type LocalDeployment,
  TemplateError,
} from '../../../local/cloudformation/template';
import { LocalEventBus } from '../../../local/events/event-bus';
import { type EventRule, loadEventRules } from '../../../local/events/rule-template';
import type { UndeliveredEvent } from '../../../local/events/target-delivery';
import { GateFaults } from '../../../local/faults/gate-faults';
import { LOCAL_REGION } from '../../../local/s3/server';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * The local default bus over the synthesized template's rules, plus the rules the launch gate adds
 * (a "Step Functions Execution Status Change" rule whose target is a state machine) and an SQS
 * target, with the target services recorded instead of run: what each rule delivers, where, when.
 */

let synthesized: CfnTemplate;
beforeAll(async () => {
  synthesized = JSON.parse(readFileSync(await synthesizedTemplate(), 'utf8')) as CfnTemplate;
});

const idsOfType = (template: CfnTemplate, type: string) =>
  Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id]) => id);

/** The synthesized template with `extra` resources added. */
/** The synthesized template plus `extra`; a GateCleanupRule of `extra` stands in for the template's own cleanup rule. */
function deploy(extra: Record<string, CfnResource> = {}): LocalDeployment {
  const own = Object.entries(synthesized.Resources).filter(
    // the test's status-change rule stands alone: the template's own (the gate cleanup's, the recorder's) go
    ([id]) =>
      !(
        'GateCleanupRule' in extra &&
        (id.startsWith('LaunchGateCleanupRule') || id.startsWith('ObjectRecorderRule'))
      ),
  );
  const template = { ...synthesized, Resources: { ...Object.fromEntries(own), ...extra } };
  return deployLocally(template, { region: LOCAL_REGION });
}

const objectCreated = (key: string, bucket: string) => ({
  version: '0',
  id: `event-${key}`,
  'detail-type': 'Object Created',
  source: 'aws.s3',
  account: '000000000000',
  time: '2026-12-01T00:00:00Z',
  region: LOCAL_REGION,
  resources: [`arn:aws:s3:::${bucket}`],
  detail: {
    version: '0',
    bucket: { name: bucket },
    object: { key, size: 5, etag: 'e', 'version-id': 'v1', sequencer: '1' },
    'request-id': 'r',
    requester: '000000000000',
    reason: 'PutObject',
  },
});

/** As Step Functions sends it (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html). */
const statusChange = (stateMachineArn: string, status: string) => ({
  version: '0',
  id: `status-${status}`,
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: '000000000000',
  time: '2026-12-01T00:00:00Z',
  region: LOCAL_REGION,
  resources: [`${stateMachineArn.replace(':stateMachine:', ':execution:')}:run-1`],
  detail: {
    executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:run-1`,
    stateMachineArn,
    name: 'run-1',
    status,
    startDate: 1_764_547_200_000,
    stopDate: 1_764_547_260_000,
    input: '{}',
    output: null,
    error: status === 'FAILED' ? 'States.TaskFailed' : null,
    cause: null,
  },
});

/** The gate's rule: failed, timed-out or aborted executions of both state machines start the first. */
function statusChangeRule(stateMachineIds: string[], extraTarget?: Record<string, unknown>): CfnResource {
  return {
    Type: 'AWS::Events::Rule',
    Properties: {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          // As lib/launch-gate-cleanup.ts writes it: each machine, and its Distributed Map children.
          stateMachineArn: stateMachineIds.flatMap((id) => [
            { Ref: id },
            { prefix: { 'Fn::Join': ['', [{ Ref: id }, '/']] } },
          ]),
        },
      },
      Targets: [
        {
          Id: 'Cleanup',
          Arn: { Ref: stateMachineIds[0] },
          InputTransformer: {
            InputPathsMap: { execution: '$.detail.executionArn', status: '$.detail.status' },
            InputTemplate: '{"executionArn":<execution>,"status":<status>,"rule":<aws.events.rule-name>}',
          },
        },
        ...(extraTarget ? [extraTarget] : []),
      ],
    },
  };
}

interface Recorded {
  readonly at: number;
  readonly call: 'startExecution' | 'sendMessage';
  readonly arn: string;
  readonly payload: unknown;
}

function bus(
  rules: EventRule[],
  options: {
    failing?: (arn: string) => Error | undefined;
    startFailures?: number;
    missed?: (event: unknown) => boolean;
  } = {},
) {
  const clock = new VirtualClock(Date.UTC(2026, 11, 1));
  const calls: Recorded[] = [];
  const undelivered: UndeliveredEvent[] = [];
  const letters: unknown[] = [];
  const record = async (call: Recorded['call'], arn: string, payload: unknown) => {
    calls.push({ at: clock.now() - Date.UTC(2026, 11, 1), call, arn, payload });
    const error = options.failing?.(arn);
    if (error) throw error;
    return `${call} #${calls.length}`;
  };
  const eventBus = new LocalEventBus<string>({
    rules,
    clock,
    random: () => 0.5,
    startFailures: options.startFailures,
    missed: options.missed,
    targets: {
      startExecution: (arn, input) => record('startExecution', arn, input),
      sendMessage: (arn, body) => record('sendMessage', arn, body),
    },
    deadLetterQueue: (queueArn) => ({
      put: (event) => {
        letters.push(event);
        return `${queueArn}#${letters.length}`;
      },
    }),
    onUndelivered: (u) => undelivered.push(u),
  });
  return { clock, eventBus, calls, undelivered, letters };
}

test("the synthesized template's rule: S3 Object Created under the input prefix, to the workflow, transformed", async () => {
  const deployment = deploy();
  const rules = loadEventRules(deployment);
  const [workflow] = idsOfType(deployment.template, 'AWS::StepFunctions::StateMachine');
  const [dataBucket] = idsOfType(deployment.template, 'AWS::S3::Bucket').filter((id) =>
    id.startsWith('DataBucket'),
  );
  const [deadLetterQueue] = idsOfType(deployment.template, 'AWS::SQS::Queue').filter((id) =>
    id.startsWith('DeadLetters'),
  );
  // the object rule, and the launch gate's cleanup on status changes (lib/launch-gate-cleanup.ts)
  expect(rules.map((rule) => rule.logicalId)).toEqual([
    expect.stringMatching(/^TriggerRule/),
    expect.stringMatching(/^LaunchGateCleanupRule/),
    expect.stringMatching(/^ObjectRecorderRule/),
  ]);
  expect(rules[0]).toMatchObject({
    state: 'ENABLED',
    arn: `arn:aws:events:${LOCAL_REGION}:000000000000:rule/${rules[0].logicalId}`,
    targets: [
      {
        id: 'Target0',
        service: 'states',
        arn: deployment.ref(workflow),
        retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 },
        deadLetterQueueArn: `arn:aws:sqs:${LOCAL_REGION}:000000000000:${deadLetterQueue}`,
      },
    ],
  });

  const { eventBus, calls } = bus(rules);
  const bucket = deployment.ref(dataBucket);
  expect(await eventBus.put(objectCreated('incoming/a.csv', bucket))).toEqual(['startExecution #1']);
  expect(await eventBus.put(objectCreated('elsewhere/a.csv', bucket))).toEqual([]);
  expect(await eventBus.put(objectCreated('incoming/a.csv', 'another-bucket'))).toEqual([]);
  expect(calls).toEqual([
    {
      at: 0,
      call: 'startExecution',
      arn: deployment.ref(workflow),
      payload: { bucket, key: 'incoming/a.csv', etag: 'e', size: 5, versionId: 'v1' },
    },
  ]);
});

test('a missed event reaches none of the rules it matched; the fault model counts only matched status changes', async () => {
  const deployment = deploy();
  const [workflow] = idsOfType(deployment.template, 'AWS::StepFunctions::StateMachine').filter(
    (id) => !id.startsWith('LaunchGate') && !id.startsWith('Backfill') && !id.startsWith('ObjectRecord'),
  );
  const faults = new GateFaults({
    faults: [{ kind: 'missed-event', amount: { count: 1 } }],
    seed: 1,
    tableNames: [],
  });
  const missed: unknown[] = [];
  const { eventBus, calls } = bus(loadEventRules(deployment), {
    missed: (event) => faults.missesEvent(event) && missed.push(event) > 0,
  });
  const workflowArn = deployment.ref(workflow);
  // RUNNING matches no rule: it is not offered to the fault model, so the count is left for ABORTED
  for (const status of ['RUNNING', 'ABORTED', 'FAILED'])
    await eventBus.put(statusChange(workflowArn, status));
  expect(missed.map((event) => (event as { detail: { status: string } }).detail.status)).toEqual(['ABORTED']);
  // FAILED reaches both rules that match it: the gate's cleanup and the object recorder.
  const started = calls.map((c) => [
    c.arn
      .split(':')
      .pop()!
      .replace(/[0-9A-F]{8}$/, ''),
    (c.payload as { detail: { status: string } }).detail.status,
  ]);
  expect(started.sort()).toEqual([
    ['LaunchGateCleanupStateMachine', 'FAILED'],
    ['ObjectRecorderStateMachine', 'FAILED'],
  ]);
});

test('a status-change rule on both state machines starts its target for FAILED, TIMED_OUT and ABORTED only', async () => {
  const probe = deploy();
  const machines = idsOfType(probe.template, 'AWS::StepFunctions::StateMachine').filter(
    (id) => !id.startsWith('LaunchGate') && !id.startsWith('ObjectRecord'),
  );
  expect(machines).toHaveLength(2); // the workflow and the backfill (the gate's and the records' machines aside)
  const deployment = deploy({ GateCleanupRule: statusChangeRule(machines) });
  const rules = loadEventRules(deployment);
  const { eventBus, calls } = bus(rules);
  const [workflowArn, backfillArn] = machines.map((id) => deployment.ref(id));

  for (const status of ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']) {
    await eventBus.put(statusChange(workflowArn, status));
  }
  await eventBus.put(statusChange(backfillArn, 'ABORTED'));
  await eventBus.put(statusChange(`${backfillArn}/map-run-label`, 'FAILED')); // a Distributed Map child
  await eventBus.put(statusChange(`${backfillArn}Other`, 'FAILED'));
  await eventBus.put(statusChange('arn:aws:states:us-east-1:000000000000:stateMachine:other', 'FAILED'));

  const execution = (arn: string) => `${arn.replace(':stateMachine:', ':execution:')}:run-1`;
  expect(calls.map((c) => [c.call, c.arn, c.payload])).toEqual([
    [
      'startExecution',
      workflowArn,
      { executionArn: execution(workflowArn), status: 'FAILED', rule: 'GateCleanupRule' },
    ],
    [
      'startExecution',
      workflowArn,
      { executionArn: execution(workflowArn), status: 'TIMED_OUT', rule: 'GateCleanupRule' },
    ],
    [
      'startExecution',
      workflowArn,
      { executionArn: execution(workflowArn), status: 'ABORTED', rule: 'GateCleanupRule' },
    ],
    [
      'startExecution',
      workflowArn,
      { executionArn: execution(backfillArn), status: 'ABORTED', rule: 'GateCleanupRule' },
    ],
    [
      'startExecution',
      workflowArn,
      { executionArn: execution(`${backfillArn}/map-run-label`), status: 'FAILED', rule: 'GateCleanupRule' },
    ],
  ]);
});

test("an SQS target gets the target input's JSON as the body; each target is retried and dead-lettered on its own", async () => {
  const probe = deploy();
  const machines = idsOfType(probe.template, 'AWS::StepFunctions::StateMachine');
  const [deadLetters] = idsOfType(probe.template, 'AWS::SQS::Queue').filter((id) =>
    id.startsWith('DeadLetters'),
  );
  const deployment = deploy({
    AuditQueue: { Type: 'AWS::SQS::Queue' },
    GateCleanupRule: statusChangeRule(machines, {
      Id: 'Audit',
      Arn: { 'Fn::GetAtt': ['AuditQueue', 'Arn'] },
      InputPath: '$.detail',
      RetryPolicy: { MaximumRetryAttempts: 2 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [deadLetters, 'Arn'] } },
    }),
  });
  const auditArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:AuditQueue`;
  const deadLettersArn = `arn:aws:sqs:${LOCAL_REGION}:000000000000:${deadLetters}`;
  const workflowArn = deployment.ref(machines[0]);
  // The queue refuses (throttled) every time; the state machine starts.
  const { clock, eventBus, calls, undelivered, letters } = bus(loadEventRules(deployment), {
    failing: (arn) =>
      arn === auditArn ? new AwsServiceError('ThrottlingException', 'Rate exceeded') : undefined,
  });
  const event = statusChange(workflowArn, 'FAILED');

  expect(await eventBus.put(event)).toEqual(['startExecution #1']);
  expect(eventBus.pending).toBe(1);
  await clock.runAll();

  expect(eventBus.pending).toBe(0);
  expect(calls.map((c) => [c.at, c.call, c.arn])).toEqual([
    [0, 'startExecution', workflowArn],
    [0, 'sendMessage', auditArn],
    [500, 'sendMessage', auditArn],
    [1500, 'sendMessage', auditArn],
  ]);
  expect(JSON.parse(calls[1].payload as string)).toEqual(event.detail);
  expect(letters).toEqual([event]);
  expect(undelivered).toEqual([
    {
      event,
      file: `${deadLettersArn}#1`,
      attributes: {
        RULE_ARN: `arn:aws:events:${LOCAL_REGION}:000000000000:rule/GateCleanupRule`,
        TARGET_ARN: auditArn,
        ERROR_CODE: 'THROTTLING',
        ERROR_MESSAGE: 'Rate exceeded (Error Code: ThrottlingException; Status Code: 400)',
        EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
        RETRY_ATTEMPTS: '2',
      },
    },
  ]);
});

test('a DISABLED rule delivers nothing, and the ruleStates option overrides the template either way', async () => {
  const machines = idsOfType(deploy().template, 'AWS::StepFunctions::StateMachine');
  const disabled = statusChangeRule(machines);
  const deployment = deploy({
    GateCleanupRule: { ...disabled, Properties: { ...disabled.Properties, State: 'DISABLED' } },
  });
  const rules = loadEventRules(deployment);
  const event = statusChange(deployment.ref(machines[0]), 'FAILED');

  expect(await bus(rules).eventBus.put(event)).toEqual([]);
  const enabled = new LocalEventBus<string>({
    rules,
    clock: new VirtualClock(),
    ruleStates: { GateCleanupRule: 'ENABLED' },
    targets: { startExecution: async () => 'started', sendMessage: async () => undefined },
  });
  expect(await enabled.put(event)).toEqual(['started']);
});

test('startFailures: the first N state-machine deliveries are throttled on every attempt, then dead-lettered', async () => {
  const deployment = deploy();
  const [dataBucket] = idsOfType(deployment.template, 'AWS::S3::Bucket').filter((id) =>
    id.startsWith('DataBucket'),
  );
  const bucket = deployment.ref(dataBucket);
  const { clock, eventBus, calls, undelivered } = bus(loadEventRules(deployment), { startFailures: 1 });

  expect(await eventBus.put(objectCreated('incoming/1.csv', bucket))).toEqual([]);
  expect(await eventBus.put(objectCreated('incoming/2.csv', bucket))).toEqual(['startExecution #1']);
  await clock.runAll();

  expect(calls).toHaveLength(1); // the failing event never reached the target
  expect(undelivered.map((u) => [u.attributes.ERROR_CODE, u.attributes.RETRY_ATTEMPTS])).toEqual([
    ['THROTTLING', '185'],
  ]);
  expect(clock.now() - Date.UTC(2026, 11, 1)).toBe(26_655_500); // the deployed policy, to the millisecond
});

describe('rules the local bus cannot run are refused when the template loads, naming the rule', () => {
  const stateMachineTarget = () => [
    { Id: 'T', Arn: { Ref: idsOfType(synthesized, 'AWS::StepFunctions::StateMachine')[0] } },
  ];
  test.each([
    [
      'a Lambda target',
      () => ({
        EventPattern: { source: ['x'] },
        Targets: [{ Id: 'Fn', Arn: 'arn:aws:lambda:us-east-1:000000000000:function:f' }],
      }),
      'Rule Odd target Fn is arn:aws:lambda:us-east-1:000000000000:function:f; the local event bus delivers to Step Functions state machines and SQS queues only',
    ],
    [
      'a custom event bus',
      () => ({ EventBusName: 'orders', EventPattern: { source: ['x'] }, Targets: stateMachineTarget() }),
      'Rule Odd is on the event bus "orders"; the local pipeline runs the default bus only',
    ],
    [
      'a schedule rule',
      () => ({ ScheduleExpression: 'rate(5 minutes)', Targets: stateMachineTarget() }),
      'Rule Odd has no EventPattern (a ScheduleExpression rule?)',
    ],
    [
      'a pattern EventBridge refuses',
      () => ({ EventPattern: { source: 'aws.s3' }, Targets: stateMachineTarget() }),
      'Rule Odd has an EventPattern EventBridge refuses: Invalid EventBridge event pattern at source',
    ],
  ])('%s', (_name, properties, message) => {
    const deployment = deploy({ Odd: { Type: 'AWS::Events::Rule', Properties: properties() } });
    expect(() => loadEventRules(deployment)).toThrow(TemplateError);
    expect(() => loadEventRules(deployment)).toThrow(message);
  });
});
