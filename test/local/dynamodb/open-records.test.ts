import { AutoClock } from '../../../local/clock';
import { recordsAtRest } from '../../../local/dynamodb/open-records';

/**
 * How long a run waits for the object records to come to rest, on a clock that moves by itself: a
 * count a sweep period apart while the sweep still closes records, exactly. (Counting the table
 * itself, and the sweep closing what a missed event left open, run end to end through `npm start`
 * in test/local/cli/main.test.ts.)
 */

const START = Date.UTC(2026, 11, 1);
const SWEEP = 15 * 60_000;

function records(open: (sinceStartMs: number) => number) {
  const clock = new AutoClock(START);
  const counts: number[] = [];
  const atRest = recordsAtRest({
    clock,
    count: async () => {
      counts.push(clock.now() - START);
      return open(clock.now() - START);
    },
    settle: async () => {},
    periodMs: SWEEP,
  });
  return { counts, atRest };
}

test('none open: one count, no wait', async () => {
  const run = records(() => 0);
  expect(await run.atRest).toBe(0);
  expect(run.counts).toEqual([0]);
});

test('closed a page a period, after two periods of age: counted each period until none is open', async () => {
  // 120 open; the sweep's first repairs come two periods on, 50 a period.
  const run = records((ms) => Math.max(0, 120 - 50 * Math.max(0, Math.floor(ms / SWEEP) - 1)));
  expect(await run.atRest).toBe(0);
  expect(run.counts).toEqual([0, 1, 2, 3, 4].map((n) => n * SWEEP));
});

test('never closed: what is open after three periods that closed none, exactly', async () => {
  const run = records((ms) => (ms < SWEEP ? 5 : 2));
  expect(await run.atRest).toBe(2);
  expect(run.counts).toEqual([0, 1, 2, 3, 4].map((n) => n * SWEEP));
});
