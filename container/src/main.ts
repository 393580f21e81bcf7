import { constants } from 'node:os';

import { createLogger, errorFields } from './log';
import { processors } from './processors';
import { EXIT_CODES, runWorker } from './worker';

/**
 * Entry point of the container: `node worker.js`. Everything it needs comes from the environment; what
 * happened is told by the exit code (see worker.ts) and one summary log line.
 */
const log = createLogger();
const controller = new AbortController();
let received: NodeJS.Signals | undefined;

// ECS sends SIGTERM on StopTask and on a Step Functions timeout, then SIGKILL 30 s later (stopTimeout).
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    received = signal;
    log.warn(`received ${signal}; aborting the S3 request`, { signal });
    controller.abort(new Error(`received ${signal}`));
    // If something ignores the abort, exit anyway: a result is only written after a complete read.
    setTimeout(() => process.exit(128 + constants.signals[signal]), 2_000).unref();
  });
}

runWorker({ env: process.env, signal: controller.signal, log, processors })
  .then(({ outcome, level, message, fields }) => {
    const exitCode =
      outcome === 'terminated' ? 128 + constants.signals[received ?? 'SIGTERM'] : EXIT_CODES[outcome];
    log[level](message, { ...fields, outcome, exitCode, summary: true });
    process.exit(exitCode);
  })
  .catch((error: unknown) => {
    log.error('unexpected failure; no result written', {
      ...errorFields(error),
      outcome: 'failed',
      exitCode: 1,
    });
    process.exit(1);
  });
