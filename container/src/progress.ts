const PROGRESS_INTERVAL_MS = 5_000;
const PROGRESS_BYTES = 256 * 1024 * 1024;

export interface ProgressOptions {
  readonly intervalMs?: number;
  readonly everyBytes?: number;
}

export interface TrackedStream {
  readonly stream: AsyncIterable<Uint8Array>;
  bytesRead(): number;
  /** Stops the timer; the stream also stops it when it ends or fails. */
  stop(): void;
}

/**
 * Passes `source` through unchanged and calls `report` every `intervalMs` or `everyBytes`, whichever
 * comes first, so a long read shows it is alive even while the stream stalls.
 */
export function trackProgress(
  source: AsyncIterable<Uint8Array>,
  report: (bytesRead: number) => void,
  { intervalMs = PROGRESS_INTERVAL_MS, everyBytes = PROGRESS_BYTES }: ProgressOptions = {},
): TrackedStream {
  let bytes = 0;
  let reportedAt = Date.now();
  let nextReportAt = everyBytes;
  const emit = () => {
    reportedAt = Date.now();
    nextReportAt = bytes + everyBytes;
    report(bytes);
  };
  // unref: a pending progress tick must never keep a finished worker alive.
  const timer = setInterval(
    () => Date.now() - reportedAt >= intervalMs && emit(),
    Math.min(1_000, intervalMs),
  );
  timer.unref();
  const stop = () => clearInterval(timer);

  async function* passThrough(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of source) {
        bytes += chunk.length;
        if (bytes >= nextReportAt) emit();
        yield chunk;
      }
    } finally {
      stop();
    }
  }
  return { stream: passThrough(), bytesRead: () => bytes, stop };
}
