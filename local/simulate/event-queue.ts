/**
 * The simulator's virtual clock: events in time order (a binary min-heap; ties run in the order
 * they were scheduled). Hand-written: a heap is a few lines and the maintained ones are ESM-only.
 */
export class EventQueue<T> {
  private readonly heap: Array<{ readonly time: number; readonly seq: number; readonly event: T }> = [];
  private seq = 0;
  /** The time of the event being run. */
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(time: number, event: T): void {
    const heap = this.heap;
    heap.push({ time, seq: this.seq++, event });
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  /** Removes the earliest event, advancing `now` to its time. */
  next(): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.before(left, smallest)) smallest = left;
        if (right < heap.length && this.before(right, smallest)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    this.now = top.time;
    return top.event;
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }
}
