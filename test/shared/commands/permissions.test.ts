import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';

import { decide, type PolicyDocument } from '../../../local/iam/policy-evaluator';
import { failures } from '../../../shared/commands/failures';
import { redrive } from '../../../shared/commands/redrive';
import { PROJECT_ROOT } from '../../../shared/paths';
import { ACCOUNT, FakeStepFunctions, REGION, runCommand } from './support/step-functions';

/**
 * The IAM statements docs/operations.md gives for `npm run failures` and `npm run redrive` allow every call the commands
 * make, judged by a real policy evaluator (@cloud-copilot/iam-simulate), on the resources they make
 * them on: the calls are the ones the commands sent to the mocked clients (with and without a records table).
 */

/** The policy docs/operations.md gives, its placeholders filled in for the fake account's state machines. */
function readmePolicy(): Array<Record<string, unknown>> {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('Permissions the person running them needs'));
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) {
    throw new Error("docs/operations.md has no JSON block after 'Permissions the person running them needs'");
  }
  const filled = block
    .replace(/:R:A:/g, `:${REGION}:${ACCOUNT}:`)
    .replace(/<Workflow>/g, 'Workflow')
    .replace(/<Backfill>/g, 'Backfill')
    .replace(/<ObjectRecordsTable>/g, RECORDS_TABLE);
  return JSON.parse(filled) as Array<Record<string, unknown>>;
}

const RECORDS_TABLE = 'ObjectRecords';

interface Call {
  readonly action: string;
  readonly resource: string;
}

/** Every call the commands sent, as IAM sees it: an action on a resource. */
function callsOf(aws: FakeStepFunctions): Call[] {
  const stateMachineCalls = aws.sfn.calls().map((call) => {
    const command = call.args[0] as unknown as {
      constructor: { name: string };
      input: Record<string, string>;
    };
    const action = `states:${command.constructor.name.replace(/Command$/, '')}`;
    const { input } = command;
    const resource = input.mapRunArn ?? input.executionArn ?? input.stateMachineArn;
    return { action, resource };
  });
  const stackCalls = aws.cloudFormation.calls().map(() => ({
    action: 'cloudformation:DescribeStacks',
    resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/S3FargatePipeline/0a1b2c3d`,
  }));
  const tableCalls = records.calls().map((call) => {
    const { TableName, IndexName } = (call.args[0] as unknown as { input: Record<string, string> }).input;
    return {
      action: 'dynamodb:Query',
      resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TableName}${IndexName ? `/index/${IndexName}` : ''}`,
    };
  });
  return [...stackCalls, ...stateMachineCalls, ...tableCalls];
}

async function allowed(
  calls: readonly Call[],
  statements: Array<Record<string, unknown>>,
): Promise<string[]> {
  const identity: PolicyDocument = { Version: '2012-10-17', Statement: statements };
  const denied: string[] = [];
  for (const call of calls) {
    const decision = await decide(
      {
        principal: `arn:aws:iam::${ACCOUNT}:role/operator`,
        action: call.action,
        resource: call.resource,
        resourceAccount: ACCOUNT,
      },
      { identity: [identity] },
    );
    if (decision !== 'Allowed') denied.push(`${call.action} on ${call.resource}: ${decision}`);
  }
  return denied;
}

let aws: FakeStepFunctions;
/** The records table, answering the failure index's Query with the backfill's failed objects. */
let records: AwsClientStub<DynamoDBClient>;
beforeEach(() => {
  // GIVEN failures of every kind the commands handle: in the window, past it, and a backfill's
  aws = new FakeStepFunctions();
  aws.failed('recent', 'incoming/a.csv');
  aws.failed('old', 'incoming/b.csv', { redrivable: false, hoursAgo: 20 });
  const failedRun = aws.backfillRun('run-1', 'FAILED', { redrivable: true });
  const child1 = aws.failedChild(failedRun.mapRunArn, 'child-1', 'incoming/c.csv');
  const succeededRun = aws.backfillRun('run-2', 'SUCCEEDED');
  const child2 = aws.failedChild(succeededRun.mapRunArn, 'child-2', 'incoming/d.csv');
  // a run that failed by itself: the one execution redrive calls RedriveExecution on
  aws.backfillRun('run-3', 'FAILED', { redrivable: true, error: 'States.ItemReaderFailed' });
  records = mockClient(DynamoDBClient);
  records.on(QueryCommand).resolves({
    Items: [child1.executionArn, child2.executionArn].map((arn) => ({ executionArn: { S: arn } })),
  });
});
afterEach(() => {
  aws.restore();
  records.restore();
});

test("docs/operations.md's statements allow every call npm run redrive makes", async () => {
  const { code } = await runCommand(redrive, []);
  expect(code).toBe(0);
  const calls = callsOf(aws);
  const actions = new Set(calls.map((c) => c.action));
  expect([...actions].sort()).toEqual([
    'cloudformation:DescribeStacks',
    'states:DescribeExecution',
    'states:DescribeMapRun',
    'states:ListExecutions',
    'states:ListMapRuns',
    'states:RedriveExecution',
    'states:StartExecution',
  ]);
  expect(await allowed(calls, readmePolicy())).toEqual([]);
});

test('npm run failures needs only the first three statements, and each one is needed', async () => {
  await runCommand(failures, []);
  const calls = callsOf(aws);
  const statements = readmePolicy();
  expect(await allowed(calls, statements.slice(0, 3))).toEqual([]);
  for (let i = 0; i < 3; i++) {
    const without = statements.slice(0, 3).filter((_, index) => index !== i);
    expect(await allowed(calls, without)).not.toEqual([]);
  }
});

test('npm run failures on a stack with object records needs the first three statements and the last two', async () => {
  aws.outputs({ ObjectRecordsTableName: RECORDS_TABLE, BucketName: 'data' });
  const { lines } = await runCommand(failures, []);
  expect(lines.at(-1)).toMatch(
    /^3 failed executions: 2 States\.TaskFailed, 1 States\.ItemReaderFailed since /,
  );
  const calls = callsOf(aws);
  expect(new Set(calls.map((c) => c.action))).toEqual(
    new Set([
      'cloudformation:DescribeStacks',
      'dynamodb:Query',
      'states:DescribeExecution',
      'states:DescribeMapRun',
      'states:ListExecutions',
    ]),
  );
  const statements = readmePolicy();
  const needed = [...statements.slice(0, 3), ...statements.slice(-2)];
  expect(await allowed(calls, needed)).toEqual([]);
  for (let i = 0; i < needed.length; i++) {
    expect(
      await allowed(
        calls,
        needed.filter((_, index) => index !== i),
      ),
    ).not.toEqual([]);
  }
});
