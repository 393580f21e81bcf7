import { loadSimulatedWorkflow } from '../../../local/simulate/planner';
import { simulate } from '../../../local/simulate/simulation';
import { synthesizedTemplate } from '../support/synthesized-template';

/**
 * Releasers that finish at the same instant, in the planner: every task takes exactly the same time,
 * so the holders release together, and each gate call takes 20 ms of the clock, so their reads of the
 * line all come before any of their hand-ons woke a waiter (with calls that take no time, one
 * release would finish its hand-on before the next began). Each release draws its own ticket, which
 * picks a different waiter of the same line: every waiter is woken by the first wave's releases,
 * with no stale wake-up (before the tickets, every releaser woke the oldest waiter: all but one got
 * a stale token and went round again).
 */

const TASK_SECONDS = 60;

/** `objects` at once on the template's slots, every task the same time; each gate call takes `gateCallMs`. */
async function together(
  template: ReturnType<typeof loadSimulatedWorkflow>,
  objects: number,
  vcpuQuota: number,
  gateCallMs: number,
) {
  return simulate({
    ...template,
    seed: 1,
    objects,
    arrivalSeconds: 0,
    vcpuQuota,
    spotVcpuQuota: vcpuQuota,
    taskSeconds: TASK_SECONDS,
    taskSpread: 0,
    gateCallMs,
  });
}

const TWO_SLOTS = { cpu: '512', memoryMiB: '1024', fargateVcpuQuota: '1' };
test.each([
  ['two releasers at one instant, two waiters in line (2 slots)', TWO_SLOTS, 2, 4],
  ['a wave of 24 releasers at one instant, 24 waiters in line (24 slots)', {}, 6, 48],
])(
  '%s: every waiter woken at once, no stale wake-up, no second look',
  async (_, context, vcpuQuota, objects) => {
    const template = loadSimulatedWorkflow(await synthesizedTemplate(context));
    const result = await together(template, objects, vcpuQuota, 20);
    expect(result.succeeded).toBe(objects);
    expect(result.refusedTaskTokens).toBe(0);
    // the waiters ran in the second wave, straight after the first: no slot stood free while one waited
    expect(result.maxIdleSlotSecondsWhileWaiting).toBeLessThan(1);
    expect(result.makespanSeconds).toBeLessThan(2 * TASK_SECONDS + 5);
    expect(result.slotsLostAtRest).toBe(0);
    // no hand-on went round: as many state transitions as when each release comes after the last
    expect(result.stateTransitions).toBe((await together(template, objects, vcpuQuota, 0)).stateTransitions);
  },
);
