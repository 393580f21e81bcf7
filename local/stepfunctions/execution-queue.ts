/**
 * Runs jobs with at most `concurrency` at once, queueing the rest in arrival order, and tells when
 * everything queued so far has finished.
 *
 * Hand-written because the maintained equivalent, p-queue, is ESM-only and not a dependency of this
 * project (p-limit is present only as a transitive dependency and has no "idle" promise); this is
 * the few lines the pipeline needs.
 */
export class ExecutionQueue {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number of at least 1, got ${concurrency}`);
    }
  }

  /** Jobs running now. */
  get running(): number {
    return this.active;
  }

  /** Jobs waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Queues `job`; the returned promise settles with the job's result once it has run. */
  add<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.active++;
        job()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            const next = this.waiting.shift();
            if (next) next();
            else if (this.active === 0) this.notifyIdle();
          });
      };
      if (this.active < this.concurrency) start();
      else this.waiting.push(start);
    });
  }

  /** Resolves when no job is running or queued (at once if that is so now). */
  onIdle(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
