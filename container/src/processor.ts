/**
 * The extension point: a processor turns the object's bytes into the JSON fields of its result.
 * Write one by implementing `Processor`, register it in `processors.ts`, and select it with PROCESSOR.
 */

/** What the worker knows about the object it reads, from the environment and the GetObject response. */
export interface SourceObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  /** Without quotes. */
  readonly etag?: string;
  /** The Content-Type stored with the object, if any. */
  readonly contentType?: string;
  readonly contentLength?: number;
}

export interface ProcessContext {
  /** Aborted on SIGTERM: a processor that awaits anything besides `body` should stop when it fires. */
  readonly signal: AbortSignal;
}

/** JSON-serialisable fields; the worker adds bucket, key, versionId, etag, processor and timing around them. */
export type ProcessorOutput = Record<string, unknown>;

export interface Processor<Output extends ProcessorOutput = ProcessorOutput> {
  /** Recorded in the result as `processor`. */
  readonly name: string;
  /**
   * Reads `body` to the end, once, and returns the result fields. Keep memory bounded: handle each chunk
   * as it arrives instead of collecting the object. Throwing fails the run (exit 1) and nothing is written.
   */
  process(body: AsyncIterable<Uint8Array>, source: SourceObject, context: ProcessContext): Promise<Output>;
}
