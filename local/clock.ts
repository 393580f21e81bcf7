/**
 * The only source of time for the local services: retries, waits, long polls, visibility timeouts,
 * task durations and execution timeouts all ask a Clock, so one run can go by real time (`npm start`,
 * scaled so that a 5-minute backoff takes 3 s), or by virtual time (the planner, and every test that
 * asserts timing, exactly).
 */
export interface Clock {
  /** Milliseconds since the epoch, as this clock tells it. */
  now(): number;
  /** Resolves once `ms` of this clock's time has passed; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Wall-clock time, running `speed` times as fast (1: real time). */
export class RealClock implements Clock {
  private readonly startedAt = Date.now();

  constructor(readonly speed = 1) {
    if (!(speed > 0)) throw new RangeError(`RealClock speed ${speed} must be above 0`);
  }

  now(): number {
    return this.startedAt + (Date.now() - this.startedAt) * this.speed;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return abortable(signal, (resolve) => {
      const timer = setTimeout(resolve, Math.max(0, ms) / this.speed);
      return () => clearTimeout(timer);
    });
  }
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

/**
 * Time that moves only when told to: `advance(ms)` fires every sleep due within `ms`, in order of due
 * time (then of creation), letting the work each one resumes run before the next fires, so a chain of
 * sleeps started along the way is followed too.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers: Timer[] = [];

  constructor(startMs = Date.UTC(2026, 11, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Sleeps not yet due. */
  get pending(): number {
    return this.timers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return abortable(signal, (resolve) => {
      const timer: Timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fire: resolve };
      this.timers.push(timer);
      return () => {
        const index = this.timers.indexOf(timer);
        if (index >= 0) this.timers.splice(index, 1);
      };
    });
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await settle();
    for (let next = this.nextDue(until); next; next = this.nextDue(until)) {
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = next.at;
      next.fire();
      await settle();
    }
    this.current = until;
  }

  /** Fires sleeps in order until none is left, however far that takes time; returns the time reached. */
  async runAll(limitMs = Number.MAX_SAFE_INTEGER): Promise<number> {
    await settle();
    while (this.timers.length > 0) {
      const next = this.nextDue(this.current + limitMs)!;
      if (!next) throw new Error(`VirtualClock.runAll: sleeps still pending after ${limitMs} ms`);
      await this.advance(next.at - this.current);
    }
    return this.current;
  }

  private nextDue(until: number): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) {
      if (timer.at > until) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}

/** Lets every promise chain that is ready run (setImmediate comes after all pending microtasks). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function abortable(
  signal: AbortSignal | undefined,
  start: (resolve: () => void) => () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = start(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
