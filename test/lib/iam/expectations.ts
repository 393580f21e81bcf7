import {
  type CfnTemplate,
  deployLocally,
  type LocalDeployment,
} from '../../../local/cloudformation/template';
import { ANONYMOUS, type Decision, type PolicyDocument } from '../../../local/iam/policy-evaluator';
import { type Caller, TemplateIam } from '../../../local/iam/template-iam';
import { roleIdFromArn } from '../support/iam';
import { type Synthesized } from '../support/synth';

/**
 * What each principal of the synthesized template must and must not be able to do, as a table of
 * requests with the decision each must get, evaluated by the IAM policy simulator over the template's
 * identity, trust and resource policies (local/iam/). `violations` returns the rows whose decision
 * differs, so a suite asserts `[]` and the same table shows it can fail on a broken template.
 */

export const ACCOUNT = '123456789012';
export const OTHER_ACCOUNT = '999999999999';
export const REGION = 'us-east-1';

const TLS = { 'aws:SecureTransport': 'true' } as const;
const PLAIN_HTTP = { 'aws:SecureTransport': 'false' } as const;

/** An administrator of another account: whatever it gets here, a resource policy gave it. */
const OTHER_ACCOUNT_ADMIN: Caller = {
  principal: `arn:aws:iam::${OTHER_ACCOUNT}:role/Admin`,
  identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
};

export type Expected = 'allowed' | 'denied' | 'explicitly denied';

export interface Expectation {
  /** Who asks, in words, for the report. */
  readonly who: string;
  readonly caller: Caller;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string>>;
  readonly expected: Expected;
}

/** The template deployed (locally, in ACCOUNT), with the names and ARNs the expectations use. */
export interface DeployedStack {
  readonly synth: Synthesized;
  readonly deployment: LocalDeployment;
  readonly iam: TemplateIam;
  readonly roles: {
    readonly task: string;
    readonly execution: string;
    readonly workflow: string;
    readonly backfill: string;
    readonly rule: string;
    readonly cleanup: string;
    readonly reconciler: string;
    readonly cleanupRule: string;
    readonly schedule: string;
    readonly recorder: string;
    readonly recorderRule: string;
    readonly sweep: string;
  };
  arn(logicalId: string): string;
  ref(logicalId: string): string;
}

/**
 * The key policy KMS gives a key created with defaults: the account may use it as its IAM policies
 * allow (KMS requires the key policy's consent as well as the caller's).
 */
function defaultKeyPolicy(keyArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${keyArn.split(':')[4]}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

/** `kmsKeyArns`: customer managed keys (with their default key policy) the stack is configured with. */
export function deployed(
  synth: Synthesized,
  template = synth.template.toJSON() as CfnTemplate,
  kmsKeyArns: readonly string[] = [],
): DeployedStack {
  const deployment = deployLocally(template, { region: REGION, accountId: ACCOUNT });
  const properties = (id: string) => template.Resources[id].Properties ?? {};
  const [[taskDefinition]] = deployment.resourcesOfType('AWS::ECS::TaskDefinition');
  const roleOf = (stateMachine: string) => roleIdFromArn(properties(stateMachine).RoleArn);
  const [target] = properties(synth.ids.rule).Targets as { RoleArn: unknown }[];
  const [cleanupTarget] = properties(synth.ids.launchGateCleanupRule).Targets as { RoleArn: unknown }[];
  const scheduleTarget = properties(synth.ids.launchGateSchedule).Target as { RoleArn: unknown };
  const [recorderTarget] = properties(synth.ids.objectRecorderRule).Targets as { RoleArn: unknown }[];
  return {
    synth,
    deployment,
    iam: new TemplateIam(
      deployment,
      Object.fromEntries(kmsKeyArns.map((key) => [key, defaultKeyPolicy(key)])),
    ),
    roles: {
      task: roleIdFromArn(properties(taskDefinition).TaskRoleArn),
      execution: roleIdFromArn(properties(taskDefinition).ExecutionRoleArn),
      workflow: roleOf(synth.ids.workflowStateMachine),
      backfill: roleOf(synth.ids.backfillStateMachine),
      rule: roleIdFromArn(target.RoleArn),
      cleanup: roleOf(synth.ids.launchGateCleanup),
      reconciler: roleOf(synth.ids.launchGateReconciler),
      cleanupRule: roleIdFromArn(cleanupTarget.RoleArn),
      schedule: roleIdFromArn(scheduleTarget.RoleArn),
      recorder: roleOf(synth.ids.objectRecorder),
      recorderRule: roleIdFromArn(recorderTarget.RoleArn),
      sweep: roleOf(synth.ids.objectRecordSweep),
    },
    arn: (logicalId) => deployment.resolve({ 'Fn::GetAtt': [logicalId, 'Arn'] }) as string,
    ref: (logicalId) => deployment.ref(logicalId),
  };
}

/** The rows whose decision is not the expected one, each described in a line. */
export async function violations(
  stack: DeployedStack,
  expectations: readonly Expectation[],
): Promise<string[]> {
  const found: string[] = [];
  for (const row of expectations) {
    const decision = await stack.iam.decide(row.caller, row.action, row.resource, row.context ?? TLS);
    if (!meets(decision, row.expected)) {
      found.push(`${row.who}: ${row.action} on ${row.resource} should be ${row.expected}, is ${decision}`);
    }
  }
  return found;
}

function meets(decision: Decision, expected: Expected): boolean {
  if (expected === 'allowed') return decision === 'Allowed';
  if (expected === 'denied') return decision !== 'Allowed';
  return decision === 'ExplicitlyDenied';
}

/** Settings of the configuration that change what is expected. */
export interface ModeSettings {
  /** Customer managed keys uploads may use (config `kmsKeyArns`). @default none */
  readonly kmsKeyArns?: readonly string[];
  readonly inputPrefix: string;
  readonly outputPrefix: string;
  /** The external bucket results go to (config `outputBucket`), if any. */
  readonly outputBucket?: string;
  /** The ECR repository ARN the image is pulled from, if it is in ECR. */
  readonly imageRepository?: string;
  /** Config `tagInputObjects`. @default false */
  readonly tagInputObjects?: boolean;
}

const row = (
  who: string,
  caller: Caller,
  action: string,
  resource: string,
  expected: Expected,
  context?: Readonly<Record<string, string>>,
): Expectation => ({ who, caller, action, resource, expected, context });

/** Task role: reads only under the input prefix, writes only under the output prefix, deletes nothing. */
export function taskRoleExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const who = 'task role';
  const task: Caller = { role: stack.roles.task };
  const data = stack.arn(stack.synth.ids.dataBucket);
  const logs = stack.arn(stack.synth.ids.accessLogBucket);
  const output = mode.outputBucket ? `arn:aws:s3:::${mode.outputBucket}` : data;
  const input = `${data}/${mode.inputPrefix}`;
  const result = `${output}/${mode.outputPrefix}${mode.inputPrefix}a.csv.json`;
  return [
    row(who, task, 's3:GetObject', `${input}a.csv`, 'allowed'),
    row(who, task, 's3:GetObject', `${input}2024/05/b c.csv`, 'allowed'),
    row(who, task, 's3:GetObjectVersion', `${input}a.csv`, 'allowed'),
    row(who, task, 's3:ListBucket', data, 'allowed'),
    row(who, task, 's3:PutObject', result, 'allowed'),
    row(who, task, 's3:GetObject', `${data}/elsewhere/a.csv`, 'denied'),
    row(who, task, 's3:GetObject', result, 'denied'),
    row(who, task, 's3:GetObject', `${logs}/data-bucket/log`, 'denied'),
    row(who, task, 's3:PutObject', `${input}a.csv`, 'denied'),
    row(who, task, 's3:PutObject', `${output}/elsewhere/a.json`, 'denied'),
    row(
      who,
      task,
      's3:PutObject',
      `${data}/${mode.outputPrefix}a.json`,
      mode.outputBucket ? 'denied' : 'allowed',
    ),
    row(who, task, 's3:PutObjectAcl', result, 'denied'),
    row(who, task, 's3:DeleteObject', `${input}a.csv`, 'denied'),
    row(who, task, 's3:DeleteObject', result, 'denied'),
    row(who, task, 's3:DeleteObjectVersion', `${input}a.csv`, 'denied'),
    row(who, task, 's3:ListBucket', logs, 'denied'),
    row(who, task, 'sqs:SendMessage', stack.arn(stack.synth.ids.deadLetterQueue), 'denied'),
    row(who, task, 'states:StartExecution', stack.ref(stack.synth.ids.workflowStateMachine), 'denied'),
  ];
}

/** Execution role: pulls only its image, writes only its own log group. */
export function executionRoleExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const who = 'execution role';
  const execution: Caller = { role: stack.roles.execution };
  const stream = (logGroup: string) =>
    `${stack.arn(logGroup).replace(/:\*$/, '')}:log-stream:worker/worker/abc`;
  const otherRepository = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/someone-elses-image`;
  const { workerLogGroup, workflowLogGroup } = stack.synth.ids;
  return [
    row(who, execution, 'logs:CreateLogStream', stream(workerLogGroup), 'allowed'),
    row(who, execution, 'logs:PutLogEvents', stream(workerLogGroup), 'allowed'),
    row(who, execution, 'logs:PutLogEvents', stream(workflowLogGroup), 'denied'),
    row(who, execution, 'logs:DeleteLogGroup', stack.arn(workerLogGroup), 'denied'),
    row(who, execution, 'ecr:BatchGetImage', otherRepository, 'denied'),
    row(who, execution, 'ecr:GetDownloadUrlForLayer', otherRepository, 'denied'),
    row(who, execution, 'ecr:PutImage', mode.imageRepository ?? otherRepository, 'denied'),
    ...(mode.imageRepository
      ? [
          row(who, execution, 'ecr:BatchGetImage', mode.imageRepository, 'allowed'),
          row(who, execution, 'ecr:GetDownloadUrlForLayer', mode.imageRepository, 'allowed'),
          row(who, execution, 'ecr:BatchCheckLayerAvailability', mode.imageRepository, 'allowed'),
          row(who, execution, 'ecr:GetAuthorizationToken', '*', 'allowed'),
        ]
      : []),
    row(
      who,
      execution,
      's3:GetObject',
      `${stack.arn(stack.synth.ids.dataBucket)}/${mode.inputPrefix}a.csv`,
      'denied',
    ),
  ];
}

/**
 * Each state machine role: runs the worker family (any revision) in its cluster and nothing else,
 * passes only the two task roles, manages only the `runTask.sync` managed rule, cannot start the
 * other workflow.
 */
export function stateMachineRoleExpectations(stack: DeployedStack): Expectation[] {
  const { ids } = stack.synth;
  const [[taskDefinitionId]] = stack.deployment.resourcesOfType('AWS::ECS::TaskDefinition');
  const revision = stack.ref(taskDefinitionId); // ...:task-definition/<family>:1
  const family = revision.replace(/:\d+$/, '');
  const cluster = stack.arn(ids.cluster);
  const otherCluster = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/another-cluster`;
  const inCluster = { ...TLS, 'ecs:cluster': cluster };
  const inOtherCluster = { ...TLS, 'ecs:cluster': otherCluster };
  const task = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${stack.ref(ids.cluster)}/0123456789abcdef`;
  const managedRule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule`;
  const workflow = stack.ref(ids.workflowStateMachine);
  const backfill = stack.ref(ids.backfillStateMachine);
  return (
    [
      ['workflow role', stack.roles.workflow, backfill],
      ['backfill role', stack.roles.backfill, workflow],
    ] as const
  ).flatMap(([who, role, otherWorkflow]) => {
    const caller: Caller = { role };
    return [
      row(who, caller, 'ecs:RunTask', revision, 'allowed', inCluster),
      row(who, caller, 'ecs:RunTask', `${family}:2`, 'allowed', inCluster),
      row(who, caller, 'ecs:RunTask', `${family}:117`, 'allowed', inCluster),
      row(who, caller, 'ecs:RunTask', revision, 'denied', inOtherCluster),
      row(who, caller, 'ecs:RunTask', `${family}-other:1`, 'denied', inCluster),
      row(
        who,
        caller,
        'ecs:RunTask',
        `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/other:1`,
        'denied',
        inCluster,
      ),
      row(who, caller, 'ecs:StopTask', task, 'allowed', inCluster),
      row(who, caller, 'ecs:DescribeTasks', task, 'allowed', inCluster),
      row(
        who,
        caller,
        'ecs:StopTask',
        task.replace(stack.ref(ids.cluster), 'another-cluster'),
        'denied',
        inOtherCluster,
      ),
      row(
        who,
        caller,
        'ecs:DescribeTasks',
        task.replace(stack.ref(ids.cluster), 'another-cluster'),
        'denied',
        inOtherCluster,
      ),
      row(who, caller, 'iam:PassRole', stack.iam.roleArn(stack.roles.task), 'allowed'),
      row(who, caller, 'iam:PassRole', stack.iam.roleArn(stack.roles.execution), 'allowed'),
      row(who, caller, 'iam:PassRole', stack.iam.roleArn(role), 'denied'),
      row(who, caller, 'iam:PassRole', stack.iam.roleArn(stack.roles.rule), 'denied'),
      row(who, caller, 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/Admin`, 'denied'),
      ...['events:PutRule', 'events:PutTargets', 'events:DescribeRule'].map((action) =>
        row(who, caller, action, managedRule, 'allowed'),
      ),
      row(who, caller, 'events:PutTargets', stack.arn(ids.rule), 'denied'),
      row(who, caller, 'events:DeleteRule', managedRule, 'denied'),
      row(who, caller, 'states:StartExecution', otherWorkflow, 'denied'),
      // the launch gate: its one table (the waiters through their index), and waking a waiting execution
      ...gateTableRows(stack, who, caller),
      // a waiter writes its own item (the cleanup and the reconciler never do)
      row(who, caller, 'dynamodb:PutItem', stack.arn(ids.launchGateTable), 'allowed', TLS),
      row(who, caller, 'sqs:ReceiveMessage', stack.arn(ids.deadLetterQueue), 'denied', TLS),
      row(who, caller, 'states:SendTaskSuccess', '*', 'allowed'),
      row(who, caller, 'states:SendTaskFailure', '*', 'denied'),
      row(who, caller, 's3:GetObject', `${stack.arn(ids.dataBucket)}/incoming/a.csv`, 'denied'),
      row(who, caller, 'ecs:RegisterTaskDefinition', '*', 'denied'),
    ];
  });
}

/** What every principal of the launch gate may do on its table: items and the waiters' index, no more. */
function gateTableRows(stack: DeployedStack, who: string, caller: Caller): Expectation[] {
  const table = stack.arn(stack.synth.ids.launchGateTable);
  return [
    ...['dynamodb:UpdateItem', 'dynamodb:DeleteItem'].map((action) =>
      row(who, caller, action, table, 'allowed', TLS),
    ),
    row(who, caller, 'dynamodb:Query', `${table}/index/ByArrival`, 'allowed', TLS),
    row(who, caller, 'dynamodb:Query', table, 'denied', TLS),
    row(who, caller, 'dynamodb:Scan', table, 'denied', TLS),
    row(who, caller, 'dynamodb:DeleteTable', table, 'denied', TLS),
    row(
      who,
      caller,
      'dynamodb:UpdateItem',
      `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/another-table`,
      'denied',
      TLS,
    ),
  ];
}

/**
 * The launch gate's housekeeping: the cleanup and the reconciler act on the gate's table, wake
 * waiters and (the reconciler) read the gate's executions and publish its repairs, nothing else; the
 * rule and the schedule start only their own state machine.
 */
export function launchGateHousekeepingExpectations(stack: DeployedStack): Expectation[] {
  const { ids } = stack.synth;
  const cleanup: Caller = { role: stack.roles.cleanup };
  const reconciler: Caller = { role: stack.roles.reconciler };
  // An execution ARN is `execution:<state machine name>:<execution name>`; the name as the template
  // gets it (Fn::GetAtt Name), which on AWS is the one in the state machine's ARN.
  const execution = (stateMachine: string, name: string) =>
    `arn:aws:states:${REGION}:${ACCOUNT}:execution:${String(
      stack.deployment.resolve({ 'Fn::GetAtt': [stateMachine, 'Name'] }),
    )}${name}`;
  const workflowName = stack.ref(ids.workflowStateMachine).split(':').pop();
  const namespace = { ...TLS, 'cloudwatch:namespace': 'S3FargatePipeline/LaunchGate' };
  return [
    ...gateTableRows(stack, 'cleanup role', cleanup),
    row('cleanup role', cleanup, 'states:SendTaskSuccess', '*', 'allowed'),
    row('cleanup role', cleanup, 'dynamodb:PutItem', stack.arn(ids.launchGateTable), 'denied', TLS),
    row(
      'cleanup role',
      cleanup,
      'states:DescribeExecution',
      execution(ids.workflowStateMachine, ':a'),
      'denied',
    ),
    row('cleanup role', cleanup, 'cloudwatch:PutMetricData', '*', 'denied', namespace),
    row('cleanup role', cleanup, 'dynamodb:GetItem', stack.arn(ids.launchGateTable), 'denied', TLS),
    ...gateTableRows(stack, 'reconciler role', reconciler),
    // it reads each waiter's item again before granting it
    row('reconciler role', reconciler, 'dynamodb:GetItem', stack.arn(ids.launchGateTable), 'allowed', TLS),
    row('reconciler role', reconciler, 'states:SendTaskSuccess', '*', 'allowed'),
    row('reconciler role', reconciler, 'states:SendTaskFailure', '*', 'denied'),
    row(
      'reconciler role',
      reconciler,
      'states:DescribeExecution',
      execution(ids.workflowStateMachine, ':a'),
      'allowed',
    ),
    row(
      'reconciler role',
      reconciler,
      'states:DescribeExecution',
      execution(ids.backfillStateMachine, ':b'),
      'allowed',
    ),
    // a backfill's Distributed Map child executions: execution:<name>/<map run label>:<child>
    row(
      'reconciler role',
      reconciler,
      'states:DescribeExecution',
      execution(ids.backfillStateMachine, '/label:child'),
      'allowed',
    ),
    row(
      'reconciler role',
      reconciler,
      'states:DescribeExecution',
      `arn:aws:states:${REGION}:${ACCOUNT}:execution:another-machine:a`,
      'denied',
    ),
    row(
      'reconciler role',
      reconciler,
      'states:StopExecution',
      execution(ids.workflowStateMachine, ':a'),
      'denied',
    ),
    row('reconciler role', reconciler, 'cloudwatch:PutMetricData', '*', 'allowed', namespace),
    row('reconciler role', reconciler, 'cloudwatch:PutMetricData', '*', 'denied', {
      ...TLS,
      'cloudwatch:namespace': 'AWS/States',
    }),
    row(
      'cleanup rule role',
      { role: stack.roles.cleanupRule },
      'states:StartExecution',
      stack.ref(ids.launchGateCleanup),
      'allowed',
    ),
    row(
      'cleanup rule role',
      { role: stack.roles.cleanupRule },
      'states:StartExecution',
      stack.ref(ids.workflowStateMachine),
      'denied',
    ),
    row(
      'schedule role',
      { role: stack.roles.schedule },
      'states:StartExecution',
      stack.ref(ids.launchGateReconciler),
      'allowed',
    ),
    row(
      'schedule role',
      { role: stack.roles.schedule },
      'states:StartExecution',
      stack.ref(ids.launchGateCleanup),
      'denied',
    ),
    row(
      'schedule role',
      { role: stack.roles.schedule },
      'states:StartExecution',
      `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${workflowName}`,
      'denied',
    ),
  ];
}

/**
 * The object records: the per-object state machines write them, the recorder ends them, announces
 * on the default bus only and (with tagInputObjects) tags input objects only; the sweep reads the
 * open records and starts the recorder; the task role touches none of it.
 */
export function objectRecordExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const { ids } = stack.synth;
  const records = stack.arn(ids.objectRecordsTable);
  const workflow: Caller = { role: stack.roles.workflow };
  const backfill: Caller = { role: stack.roles.backfill };
  const task: Caller = { role: stack.roles.task };
  const recorder: Caller = { role: stack.roles.recorder };
  const sweep: Caller = { role: stack.roles.sweep };
  const bus = (name: string) => `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${name}`;
  const data = stack.arn(ids.dataBucket);
  const input = `${data}/${mode.inputPrefix}a.csv`;
  // (the state machine's name as the template gets it, Fn::GetAtt Name, as the launch gate's rows do)
  const execution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${String(
    stack.deployment.resolve({ 'Fn::GetAtt': [ids.workflowStateMachine, 'Name'] }),
  )}:a`;
  const tagging = mode.tagInputObjects ? 'allowed' : 'denied';
  return [
    row('workflow role', workflow, 'dynamodb:UpdateItem', records, 'allowed'),
    row('workflow role', workflow, 'dynamodb:GetItem', records, 'allowed'),
    row('workflow role', workflow, 'dynamodb:DeleteItem', records, 'denied'),
    row('workflow role', workflow, 'dynamodb:Scan', records, 'denied'),
    row('backfill role', backfill, 'dynamodb:UpdateItem', records, 'allowed'),
    row('task role', task, 'dynamodb:UpdateItem', records, 'denied'),
    row('task role', task, 'dynamodb:PutItem', records, 'denied'),
    row('task role', task, 's3:PutObjectTagging', input, 'denied'),
    row('task role', task, 's3:PutObjectVersionTagging', input, 'denied'),
    row('workflow role', workflow, 's3:PutObjectTagging', input, 'denied'),
    row('recorder role', recorder, 'dynamodb:UpdateItem', records, 'allowed'),
    row('recorder role', recorder, 'dynamodb:DeleteItem', records, 'denied'),
    row('recorder role', recorder, 'dynamodb:UpdateItem', stack.arn(ids.launchGateTable), 'denied'),
    row('recorder role', recorder, 'events:PutEvents', bus('default'), 'allowed'),
    row('recorder role', recorder, 'events:PutEvents', bus('another-bus'), 'denied'),
    row('recorder role', recorder, 's3:GetObjectTagging', input, tagging),
    row('recorder role', recorder, 's3:PutObjectTagging', input, tagging),
    row('recorder role', recorder, 's3:PutObjectVersionTagging', input, tagging),
    row('recorder role', recorder, 's3:PutObjectTagging', `${data}/elsewhere/a.csv`, 'denied'),
    row('recorder role', recorder, 's3:PutObjectTagging', `${data}/${mode.outputPrefix}a.json`, 'denied'),
    row('recorder role', recorder, 's3:GetObject', input, 'denied'),
    row('sweep role', sweep, 'dynamodb:Query', `${records}/index/ByOpen`, 'allowed'),
    row('sweep role', sweep, 'dynamodb:Query', `${records}/index/ByFailure`, 'denied'),
    row('sweep role', sweep, 'dynamodb:UpdateItem', records, 'denied'),
    row('sweep role', sweep, 'states:DescribeExecution', execution, 'allowed'),
    row('sweep role', sweep, 'states:StartExecution', stack.ref(ids.objectRecorder), 'allowed'),
    row('sweep role', sweep, 'states:StartExecution', stack.ref(ids.workflowStateMachine), 'denied'),
    row('sweep role', sweep, 'events:PutEvents', bus('default'), 'denied'),
    row(
      'recorder rule role',
      { role: stack.roles.recorderRule },
      'states:StartExecution',
      stack.ref(ids.objectRecorder),
      'allowed',
    ),
    row(
      'recorder rule role',
      { role: stack.roles.recorderRule },
      'states:StartExecution',
      stack.ref(ids.workflowStateMachine),
      'denied',
    ),
  ];
}

/** The rule's role starts only the event workflow. */
export function ruleRoleExpectations(stack: DeployedStack): Expectation[] {
  const rule: Caller = { role: stack.roles.rule };
  return [
    row(
      'rule role',
      rule,
      'states:StartExecution',
      stack.ref(stack.synth.ids.workflowStateMachine),
      'allowed',
    ),
    row(
      'rule role',
      rule,
      'states:StartExecution',
      stack.ref(stack.synth.ids.backfillStateMachine),
      'denied',
    ),
    row('rule role', rule, 'sqs:SendMessage', stack.arn(stack.synth.ids.deadLetterQueue), 'denied'),
  ];
}

/** Only the rule can send to the dead-letter queue. */
export function deadLetterQueueExpectations(stack: DeployedStack): Expectation[] {
  const queue = stack.arn(stack.synth.ids.deadLetterQueue);
  const events: Caller = { principal: 'events.amazonaws.com' };
  const fromRule = { ...TLS, 'aws:SourceArn': stack.arn(stack.synth.ids.rule), 'aws:SourceAccount': ACCOUNT };
  const fromOtherRule = {
    ...TLS,
    'aws:SourceArn': `arn:aws:events:${REGION}:${OTHER_ACCOUNT}:rule/other`,
    'aws:SourceAccount': OTHER_ACCOUNT,
  };
  return [
    row('EventBridge for the rule', events, 'sqs:SendMessage', queue, 'allowed', fromRule),
    row('EventBridge for another rule', events, 'sqs:SendMessage', queue, 'denied', fromOtherRule),
    row('EventBridge without TLS', events, 'sqs:SendMessage', queue, 'explicitly denied', {
      ...fromRule,
      ...PLAIN_HTTP,
    }),
    row('another account', OTHER_ACCOUNT_ADMIN, 'sqs:SendMessage', queue, 'denied'),
    row('anonymous', { principal: ANONYMOUS }, 'sqs:SendMessage', queue, 'denied'),
  ];
}

/** This account's CloudWatch alarms can publish to the alarm topic; another account's cannot. */
export function alarmTopicExpectations(stack: DeployedStack): Expectation[] {
  const topic = stack.ref(stack.synth.ids.alarmTopic);
  const cloudwatch: Caller = { principal: 'cloudwatch.amazonaws.com' };
  const alarmOf = (account: string) => ({
    ...TLS,
    'aws:SourceAccount': account,
    'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${account}:alarm:ExecutionsFailed`,
  });
  return [
    row("this account's alarm", cloudwatch, 'sns:Publish', topic, 'allowed', alarmOf(ACCOUNT)),
    row("another account's alarm", cloudwatch, 'sns:Publish', topic, 'denied', alarmOf(OTHER_ACCOUNT)),
    row("another account's alarm claiming this account", cloudwatch, 'sns:Publish', topic, 'denied', {
      ...alarmOf(ACCOUNT),
      'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${OTHER_ACCOUNT}:alarm:ExecutionsFailed`,
    }),
    row('an alarm without TLS', cloudwatch, 'sns:Publish', topic, 'explicitly denied', {
      ...alarmOf(ACCOUNT),
      ...PLAIN_HTTP,
    }),
    row('another account', OTHER_ACCOUNT_ADMIN, 'sns:Publish', topic, 'denied'),
    row('anonymous', { principal: ANONYMOUS }, 'sns:Publish', topic, 'denied'),
  ];
}

/**
 * Both buckets refuse plain HTTP, anonymous and cross-account requests; the access logs reach the
 * log bucket only from the data bucket.
 */
export function bucketExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const data = stack.arn(stack.synth.ids.dataBucket);
  const logs = stack.arn(stack.synth.ids.accessLogBucket);
  const task: Caller = { role: stack.roles.task };
  const logging: Caller = { principal: 'logging.s3.amazonaws.com' };
  const fromBucket = (bucket: string, account = ACCOUNT) => ({
    ...TLS,
    'aws:SourceArn': bucket,
    'aws:SourceAccount': account,
  });
  const perBucket = [data, logs].flatMap((bucket) => [
    row(
      'anyone without TLS',
      OTHER_ACCOUNT_ADMIN,
      's3:GetObject',
      `${bucket}/a`,
      'explicitly denied',
      PLAIN_HTTP,
    ),
    row(
      'anonymous',
      { principal: ANONYMOUS },
      's3:GetObject',
      `${bucket}/${mode.inputPrefix}a.csv`,
      'denied',
    ),
    row(
      'anonymous',
      { principal: ANONYMOUS },
      's3:PutObject',
      `${bucket}/${mode.inputPrefix}a.csv`,
      'denied',
    ),
    row('anonymous', { principal: ANONYMOUS }, 's3:ListBucket', bucket, 'denied'),
    row(
      'another account',
      OTHER_ACCOUNT_ADMIN,
      's3:GetObject',
      `${bucket}/${mode.inputPrefix}a.csv`,
      'denied',
    ),
    row(
      'another account',
      OTHER_ACCOUNT_ADMIN,
      's3:PutObject',
      `${bucket}/${mode.inputPrefix}a.csv`,
      'denied',
    ),
    row('another account', OTHER_ACCOUNT_ADMIN, 's3:ListBucket', bucket, 'denied'),
    row('another account', OTHER_ACCOUNT_ADMIN, 's3:PutBucketPolicy', bucket, 'denied'),
  ]);
  const logKey = `${logs}/data-bucket/2026-12-01-00-00-00-0123456789ABCDEF`;
  return [
    row(
      'the task role without TLS',
      task,
      's3:GetObject',
      `${data}/${mode.inputPrefix}a.csv`,
      'explicitly denied',
      PLAIN_HTTP,
    ),
    ...perBucket,
    row('S3 logging for the data bucket', logging, 's3:PutObject', logKey, 'allowed', fromBucket(data)),
    row(
      'S3 logging for another bucket',
      logging,
      's3:PutObject',
      logKey,
      'denied',
      fromBucket('arn:aws:s3:::other-bucket'),
    ),
    row(
      'S3 logging for another account',
      logging,
      's3:PutObject',
      logKey,
      'denied',
      fromBucket(data, OTHER_ACCOUNT),
    ),
    row(
      'S3 logging outside its prefix',
      logging,
      's3:PutObject',
      `${logs}/elsewhere/log`,
      'denied',
      fromBucket(data),
    ),
    row(
      'S3 logging into the data bucket',
      logging,
      's3:PutObject',
      `${data}/data-bucket/log`,
      'denied',
      fromBucket(data),
    ),
  ];
}

/** Only the service each role is for can assume it, and for a state machine only from this account. */
export function trustExpectations(stack: DeployedStack): Expectation[] {
  const service = (name: string): Caller => ({ principal: `${name}.amazonaws.com` });
  const fromStateMachine = (account: string) => ({
    ...TLS,
    'aws:SourceAccount': account,
    'aws:SourceArn': `arn:aws:states:${REGION}:${account}:stateMachine:Workflow`,
  });
  const assume = (
    who: string,
    caller: Caller,
    role: string,
    expected: Expected,
    context?: Record<string, string>,
  ) => row(who, caller, 'sts:AssumeRole', stack.iam.roleArn(role), expected, context);
  const { task, execution, workflow, backfill, rule } = stack.roles;
  return [
    assume('ECS tasks', service('ecs-tasks'), task, 'allowed'),
    assume('ECS tasks', service('ecs-tasks'), execution, 'allowed'),
    assume('Step Functions', service('states'), task, 'denied', fromStateMachine(ACCOUNT)),
    assume('ECS tasks', service('ecs-tasks'), workflow, 'denied'),
    ...[workflow, backfill].flatMap((role) => [
      assume(
        'Step Functions for this account',
        service('states'),
        role,
        'allowed',
        fromStateMachine(ACCOUNT),
      ),
      assume(
        'Step Functions for another account',
        service('states'),
        role,
        'denied',
        fromStateMachine(OTHER_ACCOUNT),
      ),
    ]),
    assume('EventBridge', service('events'), rule, 'allowed'),
    assume('Step Functions', service('states'), rule, 'denied', fromStateMachine(ACCOUNT)),
    assume('another account', OTHER_ACCOUNT_ADMIN, task, 'denied'),
  ];
}

/**
 * SSE-KMS: an upload under a customer managed key the task role cannot decrypt is refused, for any
 * caller; one under a key of `kmsKeyArns` is accepted, and the task role may decrypt with that key
 * through S3 only.
 */
export function kmsExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const uploader: Caller = {
    principal: `arn:aws:iam::${ACCOUNT}:role/Uploader`,
    identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }],
  };
  const object = `${stack.arn(stack.synth.ids.dataBucket)}/${mode.inputPrefix}a.csv`;
  const otherKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000`;
  const sse = (algorithm: string, key?: string) => ({
    ...TLS,
    's3:x-amz-server-side-encryption': algorithm,
    ...(key && { 's3:x-amz-server-side-encryption-aws-kms-key-id': key }),
  });
  const task: Caller = { role: stack.roles.task };
  const viaS3 = { ...TLS, 'kms:ViaService': `s3.${REGION}.amazonaws.com` };
  return [
    row('an uploader, SSE-S3', uploader, 's3:PutObject', object, 'allowed', sse('AES256')),
    row('an uploader, SSE-KMS under aws/s3', uploader, 's3:PutObject', object, 'allowed', sse('aws:kms')),
    row(
      'an uploader, SSE-KMS under another customer key',
      uploader,
      's3:PutObject',
      object,
      'explicitly denied',
      sse('aws:kms', otherKey),
    ),
    row(
      'an uploader, DSSE-KMS under another customer key',
      uploader,
      's3:PutObject',
      object,
      'explicitly denied',
      sse('aws:kms:dsse', otherKey),
    ),
    row('task role', task, 'kms:Decrypt', otherKey, 'denied', viaS3),
    ...(mode.kmsKeyArns ?? []).flatMap((key) => [
      row(
        'an uploader, SSE-KMS under a named key',
        uploader,
        's3:PutObject',
        object,
        'allowed',
        sse('aws:kms', key),
      ),
      row('task role, through S3', task, 'kms:Decrypt', key, 'allowed', viaS3),
      row('task role, directly', task, 'kms:Decrypt', key, 'denied'),
      row('task role', task, 'kms:Encrypt', key, 'denied', viaS3),
    ]),
  ];
}

/**
 * encryption=kms: each principal may use the stack's key only through the service it reaches it
 * by (the task role through S3, the state machines through DynamoDB and SQS), EventBridge only for
 * this account's rules, and nobody may create a grant for
 * anything but an AWS service. Empty without a key.
 */
export function customerKeyExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  const keyId = stack.synth.ids.encryptionKey;
  if (!keyId) return [];
  const key = stack.arn(keyId);
  const otherKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000`;
  const via = (service: string) => ({ ...TLS, 'kms:ViaService': `${service}.${REGION}.amazonaws.com` });
  const task: Caller = { role: stack.roles.task };
  const execution: Caller = { role: stack.roles.execution };
  const rule: Caller = { role: stack.roles.rule };
  const logs: Caller = { principal: `logs.${REGION}.amazonaws.com` };
  const events: Caller = { principal: 'events.amazonaws.com' };
  const ruleOf = (account: string) => ({
    ...TLS,
    'aws:SourceAccount': account,
    'aws:SourceArn': `arn:aws:events:${REGION}:${account}:rule/TriggerRule`,
  });
  const writesIntoDataBucket = mode.outputBucket === undefined;
  return [
    row('task role, reading through S3', task, 'kms:Decrypt', key, 'allowed', via('s3')),
    row(
      'task role, writing results through S3',
      task,
      'kms:GenerateDataKey',
      key,
      writesIntoDataBucket ? 'allowed' : 'denied',
      via('s3'),
    ),
    row('task role, directly', task, 'kms:Decrypt', key, 'denied'),
    row('task role, through SQS', task, 'kms:Decrypt', key, 'denied', via('sqs')),
    row('task role, another key through S3', task, 'kms:GenerateDataKey', otherKey, 'denied', via('s3')),
    row('task role', task, 'kms:Encrypt', key, 'denied', via('s3')),
    row('task role', task, 'kms:CreateGrant', key, 'explicitly denied', via('s3')),
    ...(
      [
        ['workflow role', stack.roles.workflow],
        ['backfill role', stack.roles.backfill],
        ['cleanup role', stack.roles.cleanup],
        ['reconciler role', stack.roles.reconciler],
      ] as const
    ).flatMap(([who, role]) => {
      const caller: Caller = { role };
      return [
        row(`${who}, the gate's table`, caller, 'kms:Decrypt', key, 'allowed', via('dynamodb')),
        row(`${who}, the gate's table`, caller, 'kms:Encrypt', key, 'allowed', via('dynamodb')),
        row(`${who}, the gate's table`, caller, 'kms:GenerateDataKey', key, 'allowed', via('dynamodb')),
        row(`${who}, through SQS`, caller, 'kms:Decrypt', key, 'denied', via('sqs')),
        row(`${who}, through S3`, caller, 'kms:Decrypt', key, 'denied', via('s3')),
        row(`${who}, directly`, caller, 'kms:Decrypt', key, 'denied'),
        row(`${who}, another key`, caller, 'kms:Decrypt', otherKey, 'denied', via('dynamodb')),
        row(who, caller, 'kms:ScheduleKeyDeletion', key, 'denied'),
        row(who, caller, 'kms:CreateGrant', key, 'explicitly denied', via('dynamodb')),
      ];
    }),
    row('execution role', execution, 'kms:Decrypt', key, 'denied', via('s3')),
    row('rule role', rule, 'kms:GenerateDataKey', key, 'denied', via('sqs')),
    // CloudWatch Logs' use, scoped by kms:EncryptionContext:aws:logs:arn, is asserted in
    // encryption.test.ts: the simulator ignores encryption context keys whose name holds a colon.
    row('CloudWatch Logs', logs, 'kms:ScheduleKeyDeletion', key, 'denied'),
    row("EventBridge, this account's rule", events, 'kms:GenerateDataKey', key, 'allowed', ruleOf(ACCOUNT)),
    row(
      "EventBridge, another account's rule",
      events,
      'kms:GenerateDataKey',
      key,
      'denied',
      ruleOf(OTHER_ACCOUNT),
    ),
    row("EventBridge, this account's rule", events, 'kms:Encrypt', key, 'denied', ruleOf(ACCOUNT)),
    row('another account', OTHER_ACCOUNT_ADMIN, 'kms:Decrypt', key, 'denied'),
    row('anonymous', { principal: ANONYMOUS }, 'kms:Decrypt', key, 'denied'),
  ];
}

/** Every expectation above, for the configuration `mode`. */
export function allExpectations(stack: DeployedStack, mode: ModeSettings): Expectation[] {
  return [
    ...taskRoleExpectations(stack, mode),
    ...executionRoleExpectations(stack, mode),
    ...stateMachineRoleExpectations(stack),
    ...ruleRoleExpectations(stack),
    ...launchGateHousekeepingExpectations(stack),
    ...deadLetterQueueExpectations(stack),
    ...alarmTopicExpectations(stack),
    ...bucketExpectations(stack, mode),
    ...trustExpectations(stack),
    ...kmsExpectations(stack, mode),
    ...customerKeyExpectations(stack, mode),
  ];
}
