/**
 * How much faster than real time `npm start` runs its clock: retries, waits, long polls, visibility
 * timeouts, task and execution timeouts, EventBridge's delivery retries and the schedules alike. 100
 * turns a 5-minute retry cap into 3 s and the reconciler's minute into 0.6 s; a task's 3600 s
 * TimeoutSeconds is then 36 s of wall time, ample for a local worker run.
 */
export const LOCAL_CLOCK_SPEED = 100;
/**
 * The fastest the local clock may run. The engine's own work is pipeline time too (a RealClock stands
 * still only while tracked I/O is in flight), and so is a task's real run: at speed s each
 * millisecond of either is s ms. Measured on a loaded 2-core machine (load 8) with samples/:
 * at 5,000 the longest execution took 705 s of the worker's 3600 s TimeoutSeconds and the idle
 * pipeline's housekeeping 40% of a core; at 10,000 the longest took 2,360 s; at 50,000 the
 * every-minute reconciler's runs (AWS's schedules fire whether or not the last run ended) outlast
 * their period and pile up, the run 3 times slower; at 100,000 they never stop and the run never
 * ends. So 5,000: a fifth of the task timeout, a tenth of the speed where the reconciler piles up.
 */
export const MAX_CLOCK_SPEED = 5_000;

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
  /**
   * Work that takes time outside the clock (a request to dynalite, a listing of the local S3): a
   * clock that moves by itself stands still until it settles, so virtual time never jumps past it.
   */
  track<T>(work: Promise<T>): Promise<T>;
}

/**
 * Wall-clock time, running `speed` times as fast (1: real time), that stands still while tracked
 * work is in flight: the local services' own latency (a request to dynalite, which AWS answers in
 * milliseconds) is not counted, so a sped-up clock never times out a state waiting on them.
 */
export class RealClock implements Clock {
  /** Clock time when it last resumed (or paused). */
  private base = Date.now();
  /** Wall time when it last resumed; undefined while paused. */
  private resumedAt: number | undefined = Date.now();
  private inFlight = 0;
  private readonly timers = new TimerQueue();
  private wake?: NodeJS.Timeout;

  constructor(readonly speed = 1) {
    if (!(speed > 0)) throw new RangeError(`RealClock speed ${speed} must be above 0`);
  }

  now(): number {
    return this.resumedAt === undefined ? this.base : this.base + (Date.now() - this.resumedAt) * this.speed;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return abortable(signal, (resolve) => {
      const cancel = this.timers.add(this.now() + Math.max(0, ms), resolve);
      this.arm();
      return () => {
        cancel();
        // The wall-clock timer may have been set for this sleep: it must not keep the process alive.
        this.arm();
      };
    });
  }

  track<T>(work: Promise<T>): Promise<T> {
    if (this.inFlight++ === 0) {
      this.base = this.now();
      this.resumedAt = undefined;
      clearTimeout(this.wake);
    }
    return work.finally(() => {
      if (--this.inFlight === 0) {
        this.resumedAt = Date.now();
        this.arm();
      }
    });
  }

  /** Fires what is due and sets one wall-clock timer for the next sleep, while the clock runs. */
  private arm(): void {
    clearTimeout(this.wake);
    if (this.resumedAt === undefined) return;
    const now = this.now();
    for (let next = this.timers.peek(); next && next.at <= now; next = this.timers.peek()) {
      this.timers.take()!.fire();
    }
    const next = this.timers.peek();
    if (next) this.wake = setTimeout(() => this.arm(), Math.max(1, (next.at - now) / this.speed));
  }
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
  cancelled?: boolean;
}

/**
 * Sleeps by due time (then creation), as a binary heap: the planner keeps tens of thousands pending.
 * A cancelled sleep stays in the heap, marked, until it reaches the top. Hand-written: a few lines,
 * and the maintained heaps on npm are ESM-only or bring far more than this.
 */
class TimerQueue {
  private readonly heap: Timer[] = [];
  private seq = 0;
  /** Sleeps neither fired nor cancelled. */
  size = 0;

  add(at: number, fire: () => void): () => void {
    const timer: Timer = { at, seq: this.seq++, fire };
    this.heap.push(timer);
    this.up(this.heap.length - 1);
    this.size++;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.size--;
    };
  }

  /** The earliest live sleep, left in place. */
  peek(): Timer | undefined {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
    return this.heap[0];
  }

  /** Removes and returns the earliest live sleep. */
  take(): Timer | undefined {
    const timer = this.peek();
    if (!timer) return undefined;
    this.pop();
    timer.cancelled = true;
    this.size--;
    return timer;
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    this.down(0);
  }

  private before(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i], heap[parent])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.before(heap[left], heap[smallest])) smallest = left;
      if (right < heap.length && this.before(heap[right], heap[smallest])) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
      i = smallest;
    }
  }
}

/**
 * Time that moves only when told to: `advance(ms)` fires every sleep due within `ms`, in order of due
 * time (then of creation), letting the work each one resumes run before the next fires, so a chain of
 * sleeps started along the way is followed too.
 */
export class VirtualClock implements Clock {
  protected current: number;
  protected readonly timers = new TimerQueue();

  constructor(startMs = Date.UTC(2026, 11, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Sleeps not yet due. */
  get pending(): number {
    return this.timers.size;
  }

  track<T>(work: Promise<T>): Promise<T> {
    return work;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return abortable(signal, (resolve) => this.timers.add(this.current + Math.max(0, ms), resolve));
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    await settle();
    for (let next = this.timers.peek(); next && next.at <= until; next = this.timers.peek()) {
      this.timers.take();
      this.current = next.at;
      next.fire();
      await settle();
    }
    this.current = until;
  }

  /** Fires sleeps in order until none is left, however far that takes time; returns the time reached. */
  async runAll(limitMs = Number.MAX_SAFE_INTEGER): Promise<number> {
    await settle();
    for (let next = this.timers.peek(); next; next = this.timers.peek()) {
      if (next.at > this.current + limitMs) {
        throw new Error(`VirtualClock.runAll: sleeps still pending after ${limitMs} ms`);
      }
      await this.advance(next.at - this.current);
    }
    return this.current;
  }
}

/**
 * Virtual time that moves by itself: whenever every piece of work is waiting on the clock (no
 * promise chain can run, no tracked work is in flight), it jumps to the next sleep due and fires it.
 * The planner's clock, and the tests' when they drive real services: a run takes as long as its
 * work, never its waits, and its times are exact.
 */
export class AutoClock extends VirtualClock {
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const sleeping = super.sleep(ms, signal);
    this.schedule();
    return sleeping;
  }

  override track<T>(work: Promise<T>): Promise<T> {
    this.inFlight++;
    return work.finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  /** Resolves when no sleep is pending and no tracked work is in flight. */
  idle(): Promise<void> {
    if (this.timers.size === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    for (;;) {
      await settle();
      if (this.inFlight > 0) break;
      const next = this.timers.take();
      if (!next) break;
      this.current = Math.max(this.current, next.at);
      next.fire();
    }
    this.scheduled = false;
    if (this.timers.size === 0 && this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
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
    let cancel = () => {};
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    // Listening before `start`: a RealClock fires a sleep already due inside it, and its removal
    // must find the listener (one added after would stay on the signal for good).
    signal?.addEventListener('abort', onAbort, { once: true });
    cancel = start(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
