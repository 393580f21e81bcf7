/**
 * An EventBridge Scheduler `ScheduleExpression`, as the local scheduler serves it: `rate(value unit)`
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). A rate schedule
 * invokes at its StartDate, or at once when it has none, and then every `value unit`.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Thrown for an expression the local scheduler does not serve or Scheduler refuses; says which and why. */
export class ScheduleExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleExpressionError';
  }
}

export interface RateExpression {
  readonly intervalMs: number;
}

/**
 * The interval of `rate(value unit)`: value a positive whole number; unit minute, hour or day,
 * singular for 1 and plural above ("rate(1 hours) and rate(5 hour) aren't valid").
 */
export function parseScheduleExpression(expression: unknown): RateExpression {
  const text = String(expression);
  const rate = /^rate\((\d+) (minute|hour|day)(s?)\)$/.exec(text);
  if (!rate) {
    const kind = /^(at|cron)\(/.exec(text)?.[1];
    throw new ScheduleExpressionError(
      kind
        ? `${JSON.stringify(text)}, a ${kind === 'at' ? 'one-time at()' : 'cron()'} expression; the local scheduler serves rate(value unit) only: use a rate expression`
        : `${JSON.stringify(text)} is not rate(value unit) with unit minute(s), hour(s) or day(s), e.g. "rate(5 minutes)"`,
    );
  }
  const [, digits, unit, plural] = rate;
  const value = Number(digits);
  if (value < 1 || (value === 1) !== (plural === '')) {
    throw new ScheduleExpressionError(
      `${JSON.stringify(text)}: the value must be at least 1, with a singular unit for 1 and a plural one above ` +
        `(e.g. "rate(1 ${unit})", "rate(5 ${unit}s)")`,
    );
  }
  return { intervalMs: value * UNIT_MS[unit] };
}

/** The first invocation at or after `now`: the StartDate's grid, or `now` itself without a StartDate. */
export function firstInvocation(rate: RateExpression, now: number, startDate?: number): number {
  if (startDate === undefined || startDate >= now) return startDate ?? now;
  return startDate + Math.ceil((now - startDate) / rate.intervalMs) * rate.intervalMs;
}
