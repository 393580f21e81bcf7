import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { RemovalPolicy } from 'aws-cdk-lib';

import { INPUT_WITHOUT_ETAG, ObjectRecords } from '../../lib/object-records';
import type { LocalAwsService } from '../../local/aws-service';
import { matchesEventPattern } from '../../local/events/event-pattern';
import type { Json } from '../../local/stepfunctions/asl/paths';
import type { StateMachineDefinition } from '../../local/stepfunctions/definitions';
import { StatesError } from '../../local/stepfunctions/errors';
import {
  FAILURES_INDEX,
  OPEN_INDEX,
  RESULT_DETAIL_TYPES,
  RESULT_EVENT_SOURCE,
} from '../../shared/object-record';
import { restartExecutionName } from '../../shared/redrive';
import { freshStack, only } from './support/constructs';
import {
  recordOf,
  type RecordsRig,
  recordsRig,
  runExecution,
  START_MS,
  stoppedTask,
} from './support/records';
import { type Synthesized, synthesized } from './support/synth';
import { evaluate } from './support/template';

const DAY_SECONDS = 24 * 60 * 60;

describe('ObjectRecords built alone', () => {
  test('one table keyed by bucket and key#etag, on demand, with its TTL and point-in-time recovery', () => {
    const stack = freshStack();
    new ObjectRecords(stack, 'ObjectRecords', { recordDays: 7, removalPolicy: RemovalPolicy.RETAIN });
    const table = only(stack, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'bucket', KeyType: 'HASH' },
        { AttributeName: 'objectVersion', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });

  test('two sparse global indexes: failures by failedAt (every attribute), open records by openSince (keys and execution)', () => {
    const stack = freshStack();
    new ObjectRecords(stack, 'ObjectRecords', { recordDays: 30, removalPolicy: RemovalPolicy.DESTROY });
    const indexes = only(stack, 'AWS::DynamoDB::Table').Properties.GlobalSecondaryIndexes;
    expect(indexes).toEqual([
      {
        IndexName: FAILURES_INDEX,
        KeySchema: [
          { AttributeName: 'bucket', KeyType: 'HASH' },
          { AttributeName: 'failedAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: OPEN_INDEX,
        KeySchema: [
          { AttributeName: 'bucket', KeyType: 'HASH' },
          { AttributeName: 'openSince', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['executionArn'] },
      },
    ]);
  });

  test('recordDays must be a whole number from 1', () => {
    expect(
      () =>
        new ObjectRecords(freshStack(), 'ObjectRecords', {
          recordDays: 0,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
    ).toThrow(/recordDays 0 is not a whole number of days from 1: set objectRecordDays to 1 or more/);
  });
});

/** The pipeline's own state machines, run as deployed against the template's tables. */
describe('object records, as the deployed state machines write them', () => {
  let synth: Synthesized;
  let rig: RecordsRig;
  let workflow: StateMachineDefinition;
  let recorder: StateMachineDefinition;
  const announced: Array<{ Source: string; DetailType: string; Detail: Record<string, unknown> }> = [];
  const bus: LocalAwsService = {
    signingName: 'events',
    call: async (action, request) => {
      expect(action).toBe('PutEvents');
      for (const entry of (request as { Entries: Array<Record<string, string>> }).Entries) {
        announced.push({
          Source: entry.Source,
          DetailType: entry.DetailType,
          Detail: JSON.parse(entry.Detail),
        });
      }
      return { FailedEntryCount: 0, Entries: [{ EventId: 'e' }] };
    },
  };
  const workflowArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow';
  let tasksRun = 0;
  /** The task exits `exitCode`; a non-zero exit fails runTask.sync as on AWS (the description is the cause). */
  const task = (exitCode: number) => async () => {
    tasksRun++;
    const description = stoppedTask(exitCode, {
      createdAt: START_MS + 3_000,
      startedAt: START_MS + 33_000,
      stoppedAt: START_MS + 93_000,
    });
    if (exitCode !== 0) throw new StatesError('States.TaskFailed', JSON.stringify(description));
    return description;
  };
  const object = (key: string, etag = 'e1') => ({
    bucket: 'data',
    key,
    etag,
    size: 1,
    versionId: `v-${etag}`,
  });

  beforeAll(async () => {
    synth = synthesized('default');
    rig = await recordsRig(synth.template, synth.ids.objectRecordsTable);
    workflow = rig.definitionOf(synth.ids.workflowStateMachine);
    recorder = rig.definitionOf(synth.ids.objectRecorder);
  });
  afterAll(() => rig?.close());
  beforeEach(() => {
    announced.length = 0;
    tasksRun = 0;
  });

  /** The workflow on `input`, then the recorder on its status-change event; both outcomes. */
  async function process(input: Record<string, Json>, name: string, exitCode = 0) {
    const run = await runExecution(rig, workflow, input, { name, runTask: task(exitCode) });
    const ending = await record(statusChange(run.executionArn, input, run));
    return { run, ending };
  }
  function statusChange(
    executionArn: string,
    input: Record<string, Json>,
    outcome: { status: string; output?: Json; error?: string; cause?: string },
  ) {
    return {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn,
        stateMachineArn: workflowArn,
        status: outcome.status,
        startDate: START_MS,
        stopDate: START_MS + 100_000,
        input: JSON.stringify(input),
        output: outcome.output === undefined ? null : JSON.stringify(outcome.output),
        error: outcome.error ?? null,
        cause: outcome.cause ?? null,
      },
    };
  }
  const record = (event: Json) =>
    runExecution(rig, recorder, event, {
      name: 'r',
      type: 'EXPRESS',
      events: bus,
      stateMachineArn: workflowArn,
    });
  const stored = async (key: string, etag = 'e1') => {
    const item = await recordOf(rig, 'data', key, etag);
    return (
      item && Object.fromEntries(Object.entries(item).map(([name, value]) => [name, Object.values(value)[0]]))
    );
  };

  test('a new object is taken QUEUED, RUNNING while it holds a slot, then SUCCEEDED by the recorder, with its durations and TTL', async () => {
    const input = object('incoming/new.csv');
    const run = await runExecution(rig, workflow, input, { name: 'first', runTask: task(0) });
    expect(run.status).toBe('SUCCEEDED');
    // THEN after the workflow the record is RUNNING (the ending is the recorder's), open, and expires in 30 days
    expect(await stored('incoming/new.csv')).toMatchObject({
      objectKey: 'incoming/new.csv',
      etag: 'e1',
      versionId: 'v-e1',
      status: 'RUNNING',
      executionArn: run.executionArn,
      executionArns: [run.executionArn],
      receivedAt: new Date(START_MS).toISOString(),
      openSince: new Date(START_MS).toISOString(),
      resultBucket: rig.deployment.ref(synth.ids.dataBucket),
      resultKey: 'processed/incoming/new.csv.json',
      expiresAt: String(START_MS / 1000 + 30 * DAY_SECONDS),
    });
    // WHEN its status-change event reaches the recorder
    const ending = await record(statusChange(run.executionArn, input, run));
    expect(ending.status).toBe('SUCCEEDED');
    const ended = await stored('incoming/new.csv');
    expect(ended).toMatchObject({
      status: 'SUCCEEDED',
      endedAt: new Date(START_MS + 100_000).toISOString(),
      waitingMs: '3000',
      launchMs: '30000',
      runMs: '60000',
      expiresAt: String((START_MS + 100_000) / 1000 + 30 * DAY_SECONDS),
    });
    expect(ended).not.toHaveProperty('openSince');
    expect(ended).not.toHaveProperty('failedAt');
    // AND one Object Processed event names the object, its result, its durations and execution
    expect(announced).toEqual([
      {
        Source: RESULT_EVENT_SOURCE,
        DetailType: RESULT_DETAIL_TYPES.SUCCEEDED,
        Detail: {
          bucket: 'data',
          key: 'incoming/new.csv',
          etag: 'e1',
          versionId: 'v-e1',
          status: 'SUCCEEDED',
          executionArn: run.executionArn,
          attempts: 1,
          result: {
            bucket: rig.deployment.ref(synth.ids.dataBucket),
            key: 'processed/incoming/new.csv.json',
          },
          durations: { waitingMs: 3000, launchMs: 30000, runMs: 60000 },
        },
      },
    ]);
  });

  test('a second event for the same version ends at once, naming the holder: no slot, no task, no record change, no event', async () => {
    const input = object('incoming/twice.csv');
    const { run: first } = await process(input, 'once');
    const before = await stored('incoming/twice.csv');
    tasksRun = 0;
    announced.length = 0;
    const slotsBefore = await slots();
    // WHEN the same event starts another execution
    const second = await runExecution(rig, workflow, input, { name: 'again', runTask: task(0) });
    // THEN it succeeds at once, in ObjectAlreadyHeld, naming the execution that holds the object
    expect(second.status).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({
      ...input,
      duplicateOf: first.executionArn,
      holderStatus: 'SUCCEEDED',
    });
    expect(tasksRun).toBe(0);
    expect(await slots()).toEqual(slotsBefore);
    // AND its own status change records and announces nothing
    const ending = await record(statusChange(second.executionArn, input, second));
    expect(ending.status).toBe('SUCCEEDED');
    expect(await stored('incoming/twice.csv')).toEqual(before);
    expect(announced).toEqual([]);
  });

  test('a status-change event delivered twice is recorded and announced once', async () => {
    const input = object('incoming/delivered-twice.csv');
    const run = await runExecution(rig, workflow, input, { name: 'dt', runTask: task(0) });
    const event = statusChange(run.executionArn, input, run);
    await record(event);
    await record(event);
    expect(announced.map((e) => e.DetailType)).toEqual([RESULT_DETAIL_TYPES.SUCCEEDED]);
  });

  test('a new version of the same key (another ETag) runs and has a record of its own', async () => {
    await process(object('incoming/versions.csv', 'v1'), 'v1');
    tasksRun = 0;
    const { run } = await process(object('incoming/versions.csv', 'v2'), 'v2');
    expect(tasksRun).toBe(1);
    expect(await stored('incoming/versions.csv', 'v1')).toMatchObject({ status: 'SUCCEEDED' });
    expect(await stored('incoming/versions.csv', 'v2')).toMatchObject({
      status: 'SUCCEEDED',
      executionArn: run.executionArn,
    });
    // AND "all versions of a key" is one query on the partition
    const versions = await rig.dynamodb.client.send(
      new QueryCommand({
        TableName: rig.table,
        KeyConditionExpression: '#b = :b AND begins_with(objectVersion, :k)',
        ExpressionAttributeNames: { '#b': 'bucket' },
        ExpressionAttributeValues: { ':b': { S: 'data' }, ':k': { S: 'incoming/versions.csv#' } },
      }),
    );
    expect(versions.Items?.map((item) => item.objectVersion.S)).toEqual([
      'incoming/versions.csv#v1',
      'incoming/versions.csv#v2',
    ]);
  });

  test('a worker that exits non-zero: FAILED with the error, the cause, the exit code, in the failure index', async () => {
    const input = object('incoming/bad.csv');
    const { run } = await process(input, 'bad', 3);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('States.TaskFailed');
    const failed = await stored('incoming/bad.csv');
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: 'States.TaskFailed',
      exitCode: '3',
      failedAt: new Date(START_MS + 100_000).toISOString(),
      waitingMs: '3000',
      launchMs: '30000',
      runMs: '60000',
    });
    expect(String(failed?.cause)).toMatch(/^Processing s3:\/\/data\/incoming\/bad\.csv failed: /);
    expect(announced).toEqual([
      expect.objectContaining({
        DetailType: RESULT_DETAIL_TYPES.FAILED,
        Detail: expect.objectContaining({ status: 'FAILED', error: 'States.TaskFailed', exitCode: 3 }),
      }),
    ]);
    // AND npm run failures finds it in a time window without a scan
    expect(await failuresBetween(START_MS, START_MS + 200_000)).toContain('incoming/bad.csv#e1');
  });

  test.each([
    ['null', null],
    ['no', undefined],
  ])(
    'an input with %s etag fails at once, named, with no slot and no task; the recorder records it for npm run failures',
    async (_, etag) => {
      const key = `incoming/etag-${String(etag)}.csv`;
      const input = { bucket: 'data', key, versionId: '', ...(etag === null && { etag }) };
      const run = await runExecution(rig, workflow, input, {
        name: `no-etag-${String(etag)}`,
        runTask: task(0),
      });
      expect(run).toMatchObject({ status: 'FAILED', error: INPUT_WITHOUT_ETAG });
      expect(run.cause).toBe(
        `Processing s3://data/${key} failed: the input has no etag, which keys the object's record: ` +
          "start the execution with the object's ETag (aws s3api head-object --query ETag), as the rule and the backfill do",
      );
      expect(tasksRun).toBe(0);
      expect(await stored(key, '')).toBeUndefined();
      // THEN the recorder keeps its ending under `<key>#` (no ETag), where npm run failures finds it
      await record(statusChange(run.executionArn, input, run));
      expect(await stored(key, '')).toMatchObject({
        status: 'FAILED',
        error: INPUT_WITHOUT_ETAG,
        etag: '',
        executionArn: run.executionArn,
        cause: run.cause,
      });
      expect(announced).toEqual([
        expect.objectContaining({
          DetailType: RESULT_DETAIL_TYPES.FAILED,
          Detail: expect.objectContaining({ key, etag: '', status: 'FAILED', error: INPUT_WITHOUT_ETAG }),
        }),
      ]);
      expect(await failuresBetween(START_MS, START_MS + 200_000)).toContain(`${key}#`);
    },
  );

  test.each([
    ['TIMED_OUT', 'States.Timeout', 'States.Timeout'],
    ['ABORTED', undefined, 'ABORTED'],
  ])('an execution that ended %s is recorded FAILED with error %s', async (status, error, recorded) => {
    const key = `incoming/${status}.csv`;
    const input = object(key);
    const run = await runExecution(rig, workflow, input, { name: status, runTask: task(0) });
    await record(statusChange(run.executionArn, input, { status, error }));
    expect(await stored(key)).toMatchObject({ status: 'FAILED', error: recorded });
    expect(await stored(key)).not.toHaveProperty('exitCode');
  });

  test('a restart named by npm run redrive takes a FAILED record again and appends its execution; it cannot take one that did not fail', async () => {
    const input = object('incoming/retry.csv');
    const { run: failed } = await process(input, 'failing', 1);
    // WHEN npm run redrive restarts it (same input, its restart name)
    const restartName = restartExecutionName(failed.executionArn, 'failing');
    expect(restartName.startsWith('redrive-')).toBe(true);
    tasksRun = 0;
    const { run: restart } = await process(input, restartName, 0);
    // THEN it runs, and the record is SUCCEEDED, held by the restart, with both executions
    expect(tasksRun).toBe(1);
    const record = await stored('incoming/retry.csv');
    expect(record).toMatchObject({ status: 'SUCCEEDED', executionArn: restart.executionArn });
    expect([...(record?.executionArns as string[])].sort()).toEqual(
      [failed.executionArn, restart.executionArn].sort(),
    );
    expect(record).not.toHaveProperty('failedAt');
    expect(record).not.toHaveProperty('error');
    expect(announced.at(-1)?.Detail).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    // AND a restart of the now SUCCEEDED object is a duplicate
    tasksRun = 0;
    const again = await runExecution(rig, workflow, input, {
      name: restartExecutionName(restart.executionArn, 'x'),
      runTask: task(0),
    });
    expect(again.output).toMatchObject({ duplicateOf: restart.executionArn });
    expect(tasksRun).toBe(0);
  });

  test('a FAILED ending whose record put never landed creates the record, so a restart finds it', async () => {
    const input = object('incoming/never-put.csv');
    const executionArn = 'arn:aws:states:us-east-1:000000000000:execution:Workflow:lost';
    await record(
      statusChange(executionArn, input, { status: 'FAILED', error: 'States.Runtime', cause: 'x' }),
    );
    expect(await stored('incoming/never-put.csv')).toMatchObject({
      status: 'FAILED',
      executionArn,
      executionArns: [executionArn],
      objectKey: 'incoming/never-put.csv',
      error: 'States.Runtime',
    });
  });

  test("an ending of an execution that does not hold the record changes nothing (a late event of a restarted object's first run)", async () => {
    const key = 'incoming/held-elsewhere.csv';
    const { Item } = await rig.dynamodb.client.send(
      new GetItemCommand({
        TableName: rig.table,
        Key: { bucket: { S: 'data' }, objectVersion: { S: `${key}#e1` } },
      }),
    );
    expect(Item).toBeUndefined();
    await rig.dynamodb.client.send(
      new PutItemCommand({
        TableName: rig.table,
        Item: {
          bucket: { S: 'data' },
          objectVersion: { S: `${key}#e1` },
          status: { S: 'RUNNING' },
          executionArn: { S: 'arn:holder' },
        },
      }),
    );
    await record(statusChange('arn:other', object(key), { status: 'FAILED', error: 'States.TaskFailed' }));
    expect(await stored(key)).toEqual({
      bucket: 'data',
      objectVersion: `${key}#e1`,
      status: 'RUNNING',
      executionArn: 'arn:holder',
    });
    expect(announced).toEqual([]);
  });

  test('an object that finds every launch slot taken is WAITING_FOR_CAPACITY while it waits in line', async () => {
    // GIVEN every slot held
    const gateTable = rig.deployment.ref(synth.ids.launchGateTable);
    const holders = Array.from({ length: 24 }, (_, i) => `arn:holder-${i}`);
    await rig.dynamodb.client.send(
      new PutItemCommand({
        TableName: gateTable,
        Item: { pk: { S: 'slots' }, sk: { S: 'slots' }, holders: { SS: holders }, limit: { N: '24' } },
      }),
    );
    try {
      // WHEN an object arrives, and nobody wakes it before its wait (capacityWaitMinutes) ends
      const input = object('incoming/waits.csv');
      const run = await runExecution(rig, workflow, input, { name: 'waits', runTask: task(0) });
      // THEN it waited in line (WAITING_FOR_CAPACITY), never ran, and failed when the wait ended
      expect(run.status).toBe('FAILED');
      expect(tasksRun).toBe(0);
      expect(await stored('incoming/waits.csv')).toMatchObject({ status: 'WAITING_FOR_CAPACITY' });
    } finally {
      await rig.dynamodb.client.send(
        new PutItemCommand({ TableName: gateTable, Item: { pk: { S: 'slots' }, sk: { S: 'slots' } } }),
      );
    }
  });

  async function slots() {
    const { Item } = await rig.dynamodb.client.send(
      new GetItemCommand({
        TableName: rig.deployment.ref(synth.ids.launchGateTable),
        Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
        ConsistentRead: true,
      }),
    );
    return Item?.holders?.SS ?? [];
  }

  async function failuresBetween(fromMs: number, toMs: number): Promise<string[]> {
    const found = await rig.dynamodb.client.send(
      new QueryCommand({
        TableName: rig.table,
        IndexName: FAILURES_INDEX,
        KeyConditionExpression: '#b = :b AND failedAt BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#b': 'bucket' },
        ExpressionAttributeValues: {
          ':b': { S: 'data' },
          ':from': { S: new Date(fromMs).toISOString() },
          ':to': { S: new Date(toMs).toISOString() },
        },
      }),
    );
    return (found.Items ?? []).map((item) => item.objectVersion.S!);
  }
});

describe('the result events', () => {
  test("no rule of the stack matches the pipeline's own result events (nothing re-triggers it)", () => {
    const synth = synthesized('tagInputObjects');
    const rules = Object.values(synth.template.findResources('AWS::Events::Rule'));
    // (the patterns with every reference given a placeholder value, as the matcher needs them)
    const patterns = rules.map((rule) => evaluate(synth.template, rule.Properties.EventPattern));
    expect(rules.length).toBeGreaterThan(2);
    for (const detailType of Object.values(RESULT_DETAIL_TYPES)) {
      const event = {
        source: RESULT_EVENT_SOURCE,
        'detail-type': detailType,
        detail: { bucket: 'data', key: 'incoming/a.csv', status: 'SUCCEEDED' },
      };
      for (const pattern of patterns) expect(matchesEventPattern(pattern, event)).toBe(false);
    }
  });
});
