import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ExecutionJournal,
  type JournalEntry,
  redriveStatusOf,
} from '../../../local/stepfunctions/execution-journal';

/** The local execution journal (what DescribeExecution reads across restarts), and redriveStatus's rules. */

const WORKFLOW = 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow';
const BACKFILL = 'arn:aws:states:us-east-1:000000000000:stateMachine:Backfill';
const NOW = new Date('2026-12-01T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function entry(name: string, more: Partial<JournalEntry> = {}): JournalEntry {
  return {
    executionArn: `${WORKFLOW.replace(':stateMachine:', ':execution:')}:${name}`,
    name,
    stateMachineArn: WORKFLOW,
    input: JSON.stringify({ bucket: 'b', key: `incoming/${name}` }),
    status: 'FAILED',
    error: 'States.TaskFailed',
    startDate: daysAgo(1),
    stopDate: daysAgo(1),
    redriveCount: 0,
    ...more,
  };
}

test('entries survive a new journal on the same directory, and a rewrite replaces its entry', () => {
  new ExecutionJournal(dir).write(entry('one'));
  const reopened = new ExecutionJournal(dir);
  expect(reopened.entries()).toEqual([entry('one')]);
  reopened.write(entry('one', { status: 'SUCCEEDED' }));
  expect(new ExecutionJournal(dir).entries().map((e) => e.status)).toEqual(['SUCCEEDED']);
  expect(reopened.has(entry('one').executionArn)).toBe(true);
  expect(reopened.has(entry('two').executionArn)).toBe(false);
});

test('an entry is one line of JSON; pretty entries of earlier runs still read; a removed directory is made again', () => {
  const executions = join(dir, 'executions');
  const journal = new ExecutionJournal(executions);
  journal.write(entry('one'));
  const [file] = readdirSync(executions);
  expect(readFileSync(join(executions, file), 'utf8')).toBe(`${JSON.stringify(entry('one'))}\n`);
  // As journals before compact entries wrote them.
  writeFileSync(join(executions, file), `${JSON.stringify(entry('one'), null, 2)}\n`);
  expect(journal.get(entry('one').executionArn)).toEqual(entry('one'));
  expect(new ExecutionJournal(executions).entries()).toEqual([entry('one')]);
  rmSync(executions, { recursive: true });
  journal.write(entry('two'));
  expect(journal.entries()).toEqual([entry('two')]);
});

test("redriveStatus: 14 days after the stop; not past the history limit; a Map Run's child only while its parent would redrive its Map Run", () => {
  const at = NOW.getTime();
  expect(redriveStatusOf(entry('recent', { stopDate: daysAgo(13.9) }), at)).toEqual({ status: 'REDRIVABLE' });
  expect(redriveStatusOf(entry('old', { stopDate: daysAgo(14.1) }), at)).toEqual({
    status: 'NOT_REDRIVABLE',
    reason: 'Execution redrivable period exceeded',
  });
  expect(redriveStatusOf(entry('fine', { status: 'SUCCEEDED' }), at)).toEqual({
    status: 'NOT_REDRIVABLE',
    reason: 'Execution is SUCCEEDED and cannot be redriven',
  });
  const full = { ...entry('full'), history: Array(24_999).fill({}) as JournalEntry['history'] };
  expect(redriveStatusOf(full, at)).toEqual({
    status: 'NOT_REDRIVABLE',
    reason: 'Execution history event limit exceeded',
  });
  expect(redriveStatusOf(entry('express'), at, 'EXPRESS')).toMatchObject({ status: 'NOT_REDRIVABLE' });

  const item = {
    ...entry('item'),
    stateMachineArn: `${BACKFILL}/Map`,
    mapRunArn: 'arn:aws:states:us-east-1:000000000000:mapRun:Backfill/Map:1',
    backfillRunArn: `${BACKFILL.replace(':stateMachine:', ':execution:')}:run`,
  };
  const run = { ...entry('run'), stateMachineArn: BACKFILL };
  expect(redriveStatusOf(item, at, 'STANDARD', { parent: run, mapRunStatus: 'FAILED' })).toEqual({
    status: 'REDRIVABLE_BY_MAP_RUN',
  });
  // Its Map Run succeeded (the failure was tolerated): no redrive of the parent runs it again.
  expect(redriveStatusOf(item, at, 'STANDARD', { parent: run, mapRunStatus: 'SUCCEEDED' })).toEqual({
    status: 'NOT_REDRIVABLE',
    reason: 'Map Run is SUCCEEDED and cannot be redriven',
  });
  expect(
    redriveStatusOf(item, at, 'STANDARD', { parent: { ...run, status: 'RUNNING' }, mapRunStatus: 'RUNNING' }),
  ).toEqual({ status: 'NOT_REDRIVABLE', reason: 'Execution is RUNNING and cannot be redriven' });
  expect(
    redriveStatusOf(item, at, 'STANDARD', {
      parent: { ...run, stopDate: daysAgo(15) },
      mapRunStatus: 'FAILED',
    }),
  ).toEqual({ status: 'NOT_REDRIVABLE', reason: 'Execution redrivable period exceeded' });
});

test('executions an earlier process left running are recorded as ABORTED, redrivable', () => {
  const journal = new ExecutionJournal(dir);
  journal.write(entry('cut-short', { status: 'RUNNING', error: undefined, stopDate: undefined }));
  journal.abortLeftovers(NOW);
  const [aborted] = journal.entries();
  expect(aborted).toMatchObject({ name: 'cut-short', status: 'ABORTED', stopDate: NOW.toISOString() });
  expect(aborted.history?.map((event) => event.type)).toEqual(['ExecutionAborted']);
  expect(redriveStatusOf(aborted, NOW.getTime())).toEqual({ status: 'REDRIVABLE' });
});
