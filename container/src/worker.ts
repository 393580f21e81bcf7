import { ConfigError, readConfig, resultKeyFor } from './config';
import { errorFields, type LogFields, type Logger, type LogLevel } from './log';
import type { Processor } from './processor';
import { trackProgress } from './progress';
import { createS3Client, isStillCurrent, type ObjectRef, openObject, writeJson } from './s3-io';
import { WORKER_VERSION } from './version';

/**
 * How a run ended. processed, not-found, superseded and skipped are successes (exit 0): retrying them
 * cannot produce a different answer. config-error is exit 2, failed exit 1, terminated 128 + signal.
 */
export type Outcome =
  'processed' | 'not-found' | 'superseded' | 'skipped' | 'config-error' | 'failed' | 'terminated';

export const EXIT_CODES: Readonly<Record<Exclude<Outcome, 'terminated'>, number>> = {
  processed: 0,
  'not-found': 0,
  superseded: 0,
  skipped: 0,
  failed: 1,
  'config-error': 2,
};

/** What the entry point logs as the run's one summary line. */
export interface RunSummary {
  readonly outcome: Outcome;
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

export interface RunOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGTERM: stops the S3 request in flight and the run, without writing a result. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly processors: Readonly<Record<string, () => Processor>>;
}

export async function runWorker({ env, signal, log, processors }: RunOptions): Promise<RunSummary> {
  const startedAt = new Date();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);

  let config;
  try {
    config = readConfig(env);
    if (!Object.hasOwn(processors, config.processor)) {
      throw new ConfigError(
        'PROCESSOR',
        `PROCESSOR ${JSON.stringify(config.processor)} is not a registered processor: use one of ` +
          `${Object.keys(processors).join(', ')} or register it in container/src/processors.ts`,
      );
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      outcome: 'config-error',
      level: 'error',
      message: error.message,
      fields: { variable: error.variable },
    };
  }

  const ref: ObjectRef = {
    bucket: config.bucket,
    key: config.key,
    etag: config.etag,
    versionId: config.versionId,
  };
  const resultKey = resultKeyFor(config.outputPrefix, config.key);
  const runLog = log.with({ ...ref });
  const end = (outcome: Outcome, level: LogLevel, message: string, fields: LogFields = {}): RunSummary => ({
    outcome,
    level,
    message,
    fields: { ...ref, durationMs: elapsed(), ...fields },
  });

  // A result written into the watched prefix would start the pipeline again, for ever.
  if (config.outputBucket === config.bucket && config.key.startsWith(config.outputPrefix)) {
    return end(
      'skipped',
      'warn',
      `key is under OUTPUT_PREFIX "${config.outputPrefix}"; skipped to avoid a loop`,
    );
  }

  const processor = processors[config.processor]();
  const client = createS3Client(env);
  let bytes = 0;
  try {
    // sinceProcessStartMs shows cold-start cost in Logs Insights; performance.now() counts from process start.
    runLog.info('reading object', {
      processor: processor.name,
      sinceProcessStartMs: Math.round(performance.now()),
    });
    const opened = await openObject(client, ref, signal);
    if (opened.status === 'missing') {
      return end(
        'not-found',
        'info',
        'object not found (404): it was deleted after the event; nothing to do',
      );
    }
    if (opened.status === 'superseded') {
      return end(
        'superseded',
        'info',
        'object was superseded (412 on the pinned ETag/version); nothing to do',
        {
          currentEtag: opened.currentEtag,
        },
      );
    }

    const { contentLength } = opened.object;
    const tracked = trackProgress(opened.body, (bytesRead) =>
      runLog.info('progress', {
        bytes: bytesRead,
        contentLength,
        percent: contentLength ? Math.floor((bytesRead / contentLength) * 100) : undefined,
        durationMs: elapsed(),
      }),
    );
    let output;
    try {
      output = await processor.process(tracked.stream, opened.object, { signal });
    } finally {
      tracked.stop();
      bytes = tracked.bytesRead();
    }
    // A processor may swallow the abort; the signal, not its return, decides whether to write.
    signal.throwIfAborted();

    if (!(await isStillCurrent(client, ref, signal))) {
      return end(
        'superseded',
        'info',
        'object changed while it was processed; the newer version owns the result',
        {
          bytes,
        },
      );
    }
    const result = {
      bucket: config.bucket,
      key: config.key,
      versionId: opened.object.versionId ?? null,
      etag: opened.object.etag ?? null,
      ...output,
      processor: processor.name,
      workerVersion: WORKER_VERSION,
      startedAt: startedAt.toISOString(),
      durationMs: elapsed(),
    };
    await writeJson(client, config.outputBucket, resultKey, result, signal);
    return end('processed', 'info', 'processed', {
      bytes,
      resultBucket: config.outputBucket,
      resultKey,
      result: output,
    });
  } catch (error) {
    if (signal.aborted) {
      return end('terminated', 'warn', 'stopped by signal before finishing; no result written', { bytes });
    }
    return end('failed', 'error', 'failed; no result written', { bytes, ...errorFields(error) });
  } finally {
    client.destroy();
  }
}
