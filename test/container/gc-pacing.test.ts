import { paceGarbageCollection, v8Collector } from '../../container/src/gc-pacing';

async function* chunks(count: number, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill(i);
}

test('collects after every minorEveryBytes consumed, fully after every majorEveryBytes, passing every chunk through', async () => {
  const events: string[] = [];
  const paced = paceGarbageCollection(chunks(10, 100), {
    minorEveryBytes: 250,
    majorEveryBytes: 600,
    collect: (type) => events.push(type),
  });
  for await (const chunk of paced) events.push(`chunk ${chunk[0]}`);
  expect(events).toEqual([
    'chunk 0',
    'chunk 1',
    'chunk 2',
    'minor',
    'chunk 3',
    'chunk 4',
    'chunk 5',
    'major',
    'chunk 6',
    'chunk 7',
    'chunk 8',
    'minor',
    'chunk 9',
  ]);
});

test('collects only once the consumer has asked for the next chunk, i.e. finished with the last one', async () => {
  const collected: string[] = [];
  const paced = paceGarbageCollection(chunks(2, 10), {
    minorEveryBytes: 10,
    collect: (t) => collected.push(t),
  });
  await paced.next();
  expect(collected).toEqual([]);
  await paced.next();
  expect(collected).toEqual(['minor']);
});

describe('the default collector', () => {
  const arrayBuffersMiB = () => process.memoryUsage().arrayBuffers / 1024 / 1024;
  // Like the response body's chunks: 64 KiB ArrayBuffers outside the JS heap, dead once handled.
  // 16 MiB stays well under the 64 MiB of growth at which V8 would collect them by itself.
  const make16MiBOfChunks = () => {
    let bytes = 0;
    for (let i = 0; i < 256; i++) bytes += new Uint8Array(64 * 1024).length;
    return bytes;
  };

  test.each(['minor', 'major'] as const)(
    'frees dead chunks in a %s collection, without --expose-gc on the command line',
    async (type) => {
      expect(process.execArgv).not.toContain('--expose-gc');
      const collect = v8Collector();
      collect('major');
      const before = arrayBuffersMiB();
      make16MiBOfChunks();
      expect(arrayBuffersMiB() - before).toBeGreaterThanOrEqual(15);
      collect(type);
      // Node 22+ frees the buffers on a background thread after the collection: give it a moment.
      for (let waitedMs = 0; arrayBuffersMiB() - before >= 4 && waitedMs < 1_000; waitedMs += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(arrayBuffersMiB() - before).toBeLessThan(4);
    },
  );
});
