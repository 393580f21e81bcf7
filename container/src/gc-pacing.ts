import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes read between two young-generation collections (a few tenths of a millisecond each). */
const MINOR_GC_EVERY_BYTES = 4 * 1024 * 1024;
/** Bytes read between two full collections: they free the chunks a minor one promoted instead. */
const MAJOR_GC_EVERY_BYTES = 64 * 1024 * 1024;

export type Collect = (type: 'minor' | 'major') => void;

export interface GcPacingOptions {
  readonly minorEveryBytes?: number;
  readonly majorEveryBytes?: number;
  /** Defaults to V8's own collector (see v8Collector). */
  readonly collect?: Collect;
}

/**
 * Passes `source` through unchanged and runs a garbage collection every few MiB read, so that the
 * chunks already processed are freed and peak memory stays flat whatever the object's size.
 *
 * Why by hand: every chunk of the response body is its own 64 KiB ArrayBuffer outside the JS heap,
 * freed only when a GC finds its Buffer dead. On Node 22+ streaming allocates almost nothing on the
 * JS heap, so no young-generation GC runs, and V8 waits until external memory has grown by 64 MiB
 * before a full one: the worker peaked at ~160 MiB RSS on a 1 GiB object on Node 24 (the image's
 * major), against ~90 MiB with this pacing (bench/worker.ts). `--max-semi-space-size=4` left it at
 * ~160 MiB. `--expose-gc` on the command line costs ~20 ms of start-up on Node 20 and 24 (Node then
 * rejects the code cache of its built-in modules), so the collector is reached at run time instead.
 */
export async function* paceGarbageCollection(
  source: AsyncIterable<Uint8Array>,
  {
    minorEveryBytes = MINOR_GC_EVERY_BYTES,
    majorEveryBytes = MAJOR_GC_EVERY_BYTES,
    collect = v8Collector(),
  }: GcPacingOptions = {},
): AsyncGenerator<Uint8Array> {
  let sinceMinor = 0;
  let sinceMajor = 0;
  for await (const chunk of source) {
    yield chunk;
    // After the yield: the consumer has handled the chunk, so every earlier one is garbage by now.
    sinceMinor += chunk.length;
    sinceMajor += chunk.length;
    if (sinceMajor >= majorEveryBytes) {
      sinceMajor = 0;
      sinceMinor = 0;
      collect('major');
    } else if (sinceMinor >= minorEveryBytes) {
      sinceMinor = 0;
      collect('minor');
    }
  }
}

type V8Gc = (options?: { type: 'minor' }) => void;
let v8Gc: V8Gc | undefined;

/**
 * V8's `gc()`, exposed at run time rather than by `--expose-gc` on the command line (which would slow
 * start-up, see above), the way Jest's leak detector reaches it. Exposed on first use, which is after
 * the first S3 request has gone out. From then on Node's code cache is off for modules loaded later:
 * the default worker loads none, and a processor should load what it needs before its first chunk.
 */
export function v8Collector(): Collect {
  return (type) => {
    if (!v8Gc) {
      setFlagsFromString('--expose-gc');
      v8Gc = runInNewContext('gc') as V8Gc;
    }
    // Plain gc() is the full collection on every V8; { type: 'major' } left dead buffers in place in
    // one run on Node 20.
    if (type === 'minor') v8Gc({ type });
    else v8Gc();
  };
}
