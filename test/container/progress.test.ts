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
  const reports: number[] = [];
  const tracked = trackProgress(chunks(6, 1, 60), (bytes) => reports.push(bytes), { intervalMs: 100 });
  await drain(tracked.stream);
  expect(reports.length).toBeGreaterThanOrEqual(2);
  const count = reports.length;
  await new Promise((resolve) => setTimeout(resolve, 250));
  expect(reports).toHaveLength(count);
});
