/**
 * One JSON object per line on stdout: CloudWatch Logs Insights discovers the fields of JSON log events
 * on its own, so `filter outcome = "failed"` or `stats max(durationMs)` work without parse patterns.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` (e.g. bucket and key) to every line. */
  with(fields: LogFields): Logger;
}

// Writes to a pipe or file are synchronous on Linux, so nothing is lost when the worker calls process.exit.
export function createLogger(
  base: LogFields = {},
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const log = (level: LogLevel, message: string, fields?: LogFields) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...fields })}\n`);
  return {
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    with: (fields) => createLogger({ ...base, ...fields }, write),
  };
}

/** The HTTP status of an AWS SDK error, if it got a response. */
export function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** Error fields for a log line: the SDK's error name (e.g. NoSuchBucket) and HTTP status say most. */
export function errorFields(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: String(error) };
  const status = httpStatus(error);
  return {
    errorName: error.name,
    error: error.message,
    ...(status === undefined ? {} : { httpStatus: status }),
    ...(error.stack ? { stack: error.stack } : {}),
  };
}
