import { AutoClock } from '../../../local/clock';
import { launchGateAtRest, type LaunchGateState } from '../../../local/dynamodb/launch-gate-state';

/**
 * How long a run waits for the gate to come to rest, on a clock that moves by itself: a read a
 * reconciler period apart, at most `periods` periods, exactly. (Reading the table itself is run end
 * to end in test/local/gate-faults.test.ts.)
 */

const START = Date.UTC(2026, 11, 1);
const MINUTE = 60_000;

function gate(states: (sinceStartMs: number) => LaunchGateState) {
  const clock = new AutoClock(START);
  const reads: number[] = [];
  let settled = 0;
  const atRest = launchGateAtRest({
    clock,
    read: async () => {
      reads.push(clock.now() - START);
      return states(clock.now() - START);
    },
    settle: async () => {
      settled++;
    },
    periodMs: MINUTE,
    periods: 3,
  });
  return { clock, reads, atRest, settled: () => settled };
}

test('at rest at once: one read, no wait', async () => {
  const run = gate(() => ({ holders: 0, waiters: 0 }));
  expect(await run.atRest).toEqual({ holders: 0, waiters: 0 });
  expect(run.reads).toEqual([0]);
  expect(run.settled()).toBe(1);
});

test('repaired by the second reconciler period: read each period until then, each after the executions settle', async () => {
  const run = gate((ms) => (ms < 2 * MINUTE ? { holders: 1, waiters: 1 } : { holders: 0, waiters: 0 }));
  expect(await run.atRest).toEqual({ holders: 0, waiters: 0 });
  expect(run.reads).toEqual([0, MINUTE, 2 * MINUTE]);
  expect(run.settled()).toBe(3);
});

test('never at rest: what is left after 3 periods, exactly', async () => {
  const run = gate(() => ({ holders: 1, waiters: 0 }));
  expect(await run.atRest).toEqual({ holders: 1, waiters: 0 });
  expect(run.reads).toEqual([0, MINUTE, 2 * MINUTE, 3 * MINUTE]);
  expect(run.clock.now() - START).toBe(3 * MINUTE);
});
