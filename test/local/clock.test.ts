import { getEventListeners } from 'node:events';

import { AutoClock, RealClock, VirtualClock } from '../../local/clock';

describe('VirtualClock', () => {
  it('fires sleeps in due order and follows the sleeps they start', async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    void clock.sleep(300).then(() => seen.push(`a@${clock.now()}`));
    void clock.sleep(100).then(async () => {
      seen.push(`b@${clock.now()}`);
      await clock.sleep(100);
      seen.push(`c@${clock.now()}`);
    });
    await clock.advance(250);
    expect(seen).toEqual(['b@100', 'c@200']);
    expect(clock.now()).toBe(250);
    expect(await clock.runAll()).toBe(300);
    expect(seen).toEqual(['b@100', 'c@200', 'a@300']);
  });

  it('an aborted sleep rejects with the reason and never fires', async () => {
    const clock = new VirtualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
    expect(clock.pending).toBe(0);
  });
});

describe('RealClock', () => {
  it('refuses a speed that is not above 0', () => {
    expect(() => new RealClock(0)).toThrow('RealClock speed 0 must be above 0');
  });

  it('stands still while tracked work is in flight, so its latency is not counted', async () => {
    const clock = new RealClock(1000);
    let release!: () => void;
    const io = clock.track(new Promise<void>((resolve) => (release = resolve)));
    const frozen = clock.now();
    let woke = false;
    void clock.sleep(1).then(() => (woke = true));
    await new Promise((resolve) => setTimeout(resolve, 20)); // 20 s of clock time, were it running
    expect([clock.now(), woke]).toEqual([frozen, false]);
    release();
    await io;
    await clock.sleep(1);
    expect(woke).toBe(true);
  });

  it('a cancelled sleep leaves no wall-clock timer behind (nothing keeps the process alive)', async () => {
    const timeouts = () =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((name) => name === 'Timeout').length;
    const before = timeouts();
    const clock = new RealClock(1);
    const controller = new AbortController();
    const sleeping = clock.sleep(3_600_000, controller.signal);
    expect(timeouts()).toBe(before + 1);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
    expect(timeouts()).toBe(before);
  });

  it('a sleep already due leaves no abort listener on its signal (a late schedule sleeps so every period)', async () => {
    const clock = new RealClock(1000);
    const controller = new AbortController();
    for (let i = 0; i < 3; i++) await clock.sleep(0, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toEqual([]);
  });

  it('tells time faster by its speed', () => {
    const clock = new RealClock(1000);
    expect(clock.speed).toBe(1000);
    expect(clock.now()).toBeGreaterThanOrEqual(Date.now() - 1);
  });
});

describe('AutoClock', () => {
  it('jumps to the next sleep when nothing else can run, and stands still while tracked work is in flight', async () => {
    const clock = new AutoClock(0);
    const seen: string[] = [];
    const io = new Promise<void>((resolve) => setTimeout(resolve, 20)); // real I/O, outside the clock
    void clock.sleep(1_000).then(() => seen.push(`slept@${clock.now()}`));
    void clock.track(io).then(() => seen.push(`io@${clock.now()}`));
    await clock.idle();
    expect(seen).toEqual(['io@0', 'slept@1000']);
    // A chain of sleeps runs to its end, at exact times.
    const chain = (async () => {
      for (let i = 0; i < 3; i++) await clock.sleep(500);
      return clock.now();
    })();
    expect(await chain).toBe(2_500);
  });
});
