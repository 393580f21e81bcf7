import { trackProgress } from '../../container/src/progress';

async function* chunks(count: number, size: number, delayMs = 0): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    yield new Uint8Array(size);
  }
}

async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of stream) total += chunk.length;
  return total;
}

test('reports each time another everyBytes have passed, and passes every byte through', async () => {
  const reports: number[] = [];
  const tracked = trackProgress(chunks(10, 100), (bytes) => reports.push(bytes), { everyBytes: 250 });
  expect(await drain(tracked.stream)).toBe(1000);
  expect(tracked.bytesRead()).toBe(1000);
  expect(reports).toEqual([300, 600, 900]);
});

test('reports on time while the stream is slow, and stops when it ends', async () => {
  // Jest's clock, not the machine's: the interval's ticks and the chunks' delays happen exactly.
  jest.useFakeTimers({ now: 0 });
  try {
    const reports: Array<[number, number]> = [];
    const tracked = trackProgress(chunks(6, 1, 60), (bytes) => reports.push([Date.now(), bytes]), {
      intervalMs: 100,
    });
    const drained = drain(tracked.stream);
    // 6 one-byte chunks, one every 60 ms (the last at 360 ms); a tick every 100 ms reports once 100 ms
    // have passed since the last report.
    await jest.advanceTimersByTimeAsync(360);
    expect(await drained).toBe(6);
    expect(reports).toEqual([
      [100, 1],
      [200, 3],
      [300, 4],
    ]);
    // Once the stream has ended, the timer is gone.
    await jest.advanceTimersByTimeAsync(1_000);
    expect(reports).toHaveLength(3);
  } finally {
    jest.useRealTimers();
  }
});
