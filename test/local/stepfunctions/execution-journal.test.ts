import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ExecutionJournal, type JournalEntry } from '../../../local/stepfunctions/execution-journal';

/** The local execution history: what --failures and --redrive read, across restarts. */

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

test('failures: redrivable for 14 days after they stopped; backfill items only by their Map Run', () => {
  const journal = new ExecutionJournal(dir);
  journal.write(entry('recent', { stopDate: daysAgo(13.9) }));
  journal.write(entry('old', { stopDate: daysAgo(14.1) }));
  journal.write(entry('fine', { status: 'SUCCEEDED', error: undefined }));
  journal.write({
    ...entry('item'),
    stateMachineArn: BACKFILL,
    backfillRunArn: `${BACKFILL.replace(':stateMachine:', ':execution:')}:run`,
  });
  const failures = Object.fromEntries(journal.failures(NOW).map((f) => [f.name, f]));
  expect(Object.keys(failures).sort()).toEqual(['item', 'old', 'recent']);
  expect(failures.recent).toMatchObject({ redriveStatus: 'REDRIVABLE', kind: 'object', status: 'FAILED' });
  expect(failures.old).toMatchObject({
    redriveStatus: 'NOT_REDRIVABLE',
    redriveStatusReason: 'Execution redrivable period exceeded',
  });
  expect(failures.item).toMatchObject({
    redriveStatus: 'REDRIVABLE_BY_MAP_RUN',
    backfillRun: { status: 'ENDED', redriveStatus: 'NOT_REDRIVABLE' },
  });
});

test('executions an earlier process left running are recorded as ABORTED, and listed', () => {
  const journal = new ExecutionJournal(dir);
  journal.write(entry('cut-short', { status: 'RUNNING', error: undefined, stopDate: undefined }));
  journal.abortLeftovers(NOW);
  expect(journal.failures(NOW)).toMatchObject([
    { name: 'cut-short', status: 'ABORTED', redriveStatus: 'REDRIVABLE', stopDate: NOW },
  ]);
});
