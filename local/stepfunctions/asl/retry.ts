import { UNCATCHABLE_ERRORS } from './errors';

/**
 * Retry and Catch as Step Functions applies them: the first retrier (or catcher) whose ErrorEquals
 * names the error handles it; `States.ALL` names every error but the uncatchable ones,
 * `States.TaskFailed` every error but a timeout, `States.Timeout` a heartbeat timeout too. One
 * implementation of the backoff for the local run and the planner alike.
 */

export interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

export interface Catcher {
  readonly ErrorEquals: readonly string[];
  readonly ResultPath?: string | null;
  readonly Next: string;
}

export function errorMatches(names: readonly string[], error: string): boolean {
  if (names.includes(error)) return true;
  if (UNCATCHABLE_ERRORS.has(error)) return false;
  if (names.includes('States.ALL')) return true;
  const timeout = error === 'States.Timeout' || error === 'States.HeartbeatTimeout';
  if (timeout) return names.includes('States.Timeout');
  return names.includes('States.TaskFailed') && error !== 'States.Permissions';
}

/**
 * The delay before retry number `attempt` (1-based): IntervalSeconds × BackoffRate^(attempt-1),
 * capped at MaxDelaySeconds; under FULL jitter a uniform draw between 0 and that. Step Functions'
 * defaults apply to unset fields (1 s, rate 2, 3 attempts).
 */
export function retryDelaySeconds(retrier: Retrier, attempt: number, random: () => number): number {
  const ceiling = Math.min(
    (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1),
    retrier.MaxDelaySeconds ?? Infinity,
  );
  return retrier.JitterStrategy === 'FULL' ? random() * ceiling : ceiling;
}

export function maxAttemptsOf(retrier: Retrier): number {
  return retrier.MaxAttempts ?? 3;
}
