import { GetItemCommand } from '@aws-sdk/client-dynamodb';

import type { StatusChangeEvent } from '../../../local/pipeline';
import { releasedAfterEach, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * StopExecution through the local pipeline, as on AWS: the execution ends ABORTED at once, no Catch
 * runs, its running task (a real process) gets SIGTERM, and a status-change event reports it.
 */

const used = releasedAfterEach();

test('StopExecution of an execution whose task runs: ABORTED, no Catch, the worker gets SIGTERM, an event says so', async () => {
  const worker =
    "process.on('SIGTERM', () => { console.log('worker got SIGTERM'); process.exit(143); }); " +
    "console.log('worker started'); setInterval(() => {}, 1000);";
  const lines: string[] = [];
  const events: StatusChangeEvent[] = [];
  const pipeline = (used.pipeline = await startTestPipeline(await synthesizedTemplate(), {
    workerCommand: [process.execPath, '-e', worker],
    onWorkerLog: (line) => lines.push(line),
    onExecutionStatusChange: (event) => events.push(event),
  }));
  await pipeline.upload('incoming/long.txt', 'takes forever');
  while (!lines.includes('worker started')) await new Promise((resolve) => setTimeout(resolve, 10));
  const [record] = pipeline.executions();

  // WHEN it is stopped through the Step Functions API
  await pipeline.stepFunctionsApi.call('StopExecution', {
    executionArn: record.executionArn,
    error: 'Operator',
    cause: 'stopped by hand',
  });
  await pipeline.waitForIdle();

  // THEN it ended ABORTED at once: RunWorker was the last state entered, no Catch ran after it
  expect(record).toMatchObject({ status: 'ABORTED', error: 'Operator', cause: 'stopped by hand' });
  const entered = record.history.events
    .filter((e) => e.type.endsWith('StateEntered'))
    .map((e) => (e.stateEnteredEventDetails as { name: string }).name);
  expect(entered).toEqual(['RecordObject', 'ClaimLaunchSlot', 'RecordRunning', 'RunWorker']);
  expect(record.history.events.at(-1)).toMatchObject({ type: 'ExecutionAborted' });
  // AND the journal and the event bus were told; AND the worker got SIGTERM (stop waits for the task)
  expect(pipeline.journal.get(record.executionArn)).toMatchObject({ status: 'ABORTED' });
  // AND its status change reached the gate's cleanup rule: the slot it never released is free again
  const slots = await pipeline.dynamodb.client.send(
    new GetItemCommand({
      TableName: pipeline.dynamodb.tables[0].tableName,
      Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
      ConsistentRead: true,
    }),
  );
  expect(slots.Item?.holders?.SS ?? []).toEqual([]);
  await pipeline.stop();
  used.pipeline = undefined;
  expect(lines).toContain('worker got SIGTERM');
  expect(record.attempts.map((a) => [a.exitCode, a.stopCode])).toEqual([[143, 'UserInitiated']]);
  expect(events.map((e) => [e['detail-type'], e.detail.status])).toEqual([
    ['Step Functions Execution Status Change', 'RUNNING'],
    ['Step Functions Execution Status Change', 'ABORTED'],
  ]);
  expect(events[1].detail).toMatchObject({
    executionArn: record.executionArn,
    error: 'Operator',
    cause: 'stopped by hand',
  });
});
