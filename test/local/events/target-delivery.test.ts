import { AwsServiceError } from '../../../local/aws-service';
import { VirtualClock } from '../../../local/clock';
import type { DeadLetterAttributes } from '../../../local/events/dead-letter-store';
import { DeliveryError, TargetDelivery, type UndeliveredEvent } from '../../../local/events/target-delivery';

/**
 * EventBridge's delivery rules on their own, on a VirtualClock with the jitter fixed at half the
 * backoff, so every retry time is exact; dead-letters.test.ts runs them through the whole pipeline.
 */

const RULE_ARN = 'arn:aws:events:us-east-1:000000000000:rule/r';
const TARGET_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:s';
const event = { id: 'e-1', detail: { object: { key: 'incoming/a b.txt' } } };

/** A target with the deployed RetryPolicy (185 attempts, 24 h) unless told otherwise. */
function delivery({
  maximumRetryAttempts = 185,
  maximumEventAgeInSeconds = 86_400,
}: { maximumRetryAttempts?: number; maximumEventAgeInSeconds?: number } = {}) {
  const clock = new VirtualClock(0);
  const undelivered: Array<UndeliveredEvent & { at: number }> = [];
  const deadLetters: Array<{ event: unknown; attributes: DeadLetterAttributes }> = [];
  const target = new TargetDelivery({
    ruleArn: RULE_ARN,
    targetArn: TARGET_ARN,
    retryPolicy: { maximumRetryAttempts, maximumEventAgeInSeconds },
    clock,
    random: () => 0.5,
    deadLetterQueue: {
      put: (letter, attributes) => {
        deadLetters.push({ event: letter, attributes });
        return `letter-${deadLetters.length}`;
      },
    },
    onUndelivered: (u) => undelivered.push({ ...u, at: clock.now() }),
  });
  /** Delivers `event`; each attempt is recorded at its clock time and fails while `fail(n)` says so. */
  const deliver = async (fail: (attempt: number) => Error | undefined) => {
    const attemptsAt: number[] = [];
    const result = await target.deliver(event, async () => {
      attemptsAt.push(clock.now());
      const error = fail(attemptsAt.length);
      if (error) throw error;
      return `started on attempt ${attemptsAt.length}`;
    });
    return { result, attemptsAt };
  };
  return { clock, target, undelivered, deadLetters, deliver };
}

const throttled = () => new DeliveryError('THROTTLING', 'ThrottlingException: Rate exceeded', true);

test('retry n waits half of min(1 s x 2^n, 5 min) with the jitter at 0.5, and stops at MaximumRetryAttempts', async () => {
  const { clock, target, undelivered, deadLetters, deliver } = delivery({ maximumRetryAttempts: 3 });
  const { result, attemptsAt } = await deliver(throttled);
  expect(result).toBeUndefined();
  expect(target.pending).toBe(1);

  await clock.runAll();

  expect(attemptsAt).toEqual([0, 500, 1500, 3500]);
  expect(target.pending).toBe(0);
  const attributes = {
    RULE_ARN,
    TARGET_ARN,
    ERROR_CODE: 'THROTTLING',
    ERROR_MESSAGE: 'ThrottlingException: Rate exceeded',
    EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
    RETRY_ATTEMPTS: '3',
  };
  expect(deadLetters).toEqual([{ event, attributes }]);
  expect(undelivered).toEqual([{ event, attributes, file: 'letter-1', at: 3500 }]);
});

test('the deployed policy: 185 retries, the backoff capped at 5 minutes, dead-lettered after 26,655.5 s', async () => {
  const { clock, undelivered, deliver } = delivery();
  const { attemptsAt } = await deliver(throttled);
  await clock.runAll();

  expect(attemptsAt).toHaveLength(186);
  // 0.5 s, 1 s, ... 128 s (retries 0-8: 255.5 s), then 176 retries of 150 s (half of the 5-minute cap).
  expect(attemptsAt.slice(0, 11)).toEqual([
    0, 500, 1500, 3500, 7500, 15_500, 31_500, 63_500, 127_500, 255_500, 405_500,
  ]);
  expect(attemptsAt.at(-1)).toBe(26_655_500);
  expect(
    undelivered.map((u) => [u.at, u.attributes.EXHAUSTED_RETRY_CONDITION, u.attributes.RETRY_ATTEMPTS]),
  ).toEqual([[26_655_500, 'MaximumRetryAttempts', '185']]);
});

test('retries stop at MaximumEventAgeInSeconds when the next wait would pass it', async () => {
  const { clock, undelivered, deliver } = delivery({ maximumEventAgeInSeconds: 60 });
  const { attemptsAt } = await deliver(throttled);
  await clock.runAll();

  // After the attempt at 31.5 s the next wait (32 s) would end at 63.5 s, past the 60 s of event age.
  expect(attemptsAt).toEqual([0, 500, 1500, 3500, 7500, 15_500, 31_500]);
  expect(
    undelivered.map((u) => [u.at, u.attributes.EXHAUSTED_RETRY_CONDITION, u.attributes.RETRY_ATTEMPTS]),
  ).toEqual([[31_500, 'MaximumEventAgeInSeconds', '6']]);
});

test('a target input that is not JSON is dead-lettered at once, unretried, with no exhausted condition', async () => {
  const { clock, undelivered, deliver } = delivery();
  const { attemptsAt } = await deliver(
    () => new DeliveryError('INVALID_JSON', 'Target input is not valid JSON', false),
  );
  await clock.runAll();

  expect(attemptsAt).toEqual([0]);
  expect(undelivered).toEqual([
    {
      event,
      file: 'letter-1',
      at: 0,
      attributes: {
        RULE_ARN,
        TARGET_ARN,
        ERROR_CODE: 'INVALID_JSON',
        ERROR_MESSAGE: 'Target input is not valid JSON',
        RETRY_ATTEMPTS: '0',
      },
    },
  ]);
});

test('a retry that succeeds delivers the event, and nothing is dead-lettered', async () => {
  const { clock, target, undelivered, deliver } = delivery();
  const { attemptsAt } = await deliver((attempt) => (attempt < 3 ? throttled() : undefined));
  await clock.runAll();

  expect(attemptsAt).toEqual([0, 500, 1500]);
  expect(undelivered).toEqual([]);
  expect(target.pending).toBe(0);
});

test('a first attempt that succeeds resolves to what it started', async () => {
  const { target, deliver } = delivery();
  expect(await deliver(() => undefined)).toEqual({ result: 'started on attempt 1', attemptsAt: [0] });
  expect(target.pending).toBe(0);
});

test.each([
  ['ThrottlingException', 400, 'THROTTLING', 4],
  ['ServiceUnavailable', 503, 'SDK_CLIENT_ERROR', 4],
  ['StateMachineDoesNotExist', 400, 'RESOURCE_NOT_FOUND', 1],
  ['AccessDeniedException', 400, 'NO_PERMISSIONS', 1],
  ['InvalidExecutionInput', 400, 'SDK_CLIENT_ERROR', 1],
])(
  "a target service's %s (%d) is reported as %s after %d attempt(s)",
  async (code, statusCode, errorCode, attempts) => {
    const { clock, undelivered, deliver } = delivery({ maximumRetryAttempts: 3 });
    const { attemptsAt } = await deliver(() => new AwsServiceError(code, 'refused', statusCode));
    await clock.runAll();

    expect(attemptsAt).toHaveLength(attempts);
    expect(undelivered.map((u) => u.attributes)).toEqual([
      expect.objectContaining({
        ERROR_CODE: errorCode,
        ERROR_MESSAGE: `refused (Error Code: ${code}; Status Code: ${statusCode})`,
        RETRY_ATTEMPTS: String(attempts - 1),
      }),
    ]);
  },
);

test('an error that is no AWS refusal is a local bug: the delivery rejects and nothing is dead-lettered', async () => {
  const { undelivered, deadLetters, deliver } = delivery();
  await expect(deliver(() => new TypeError('bug'))).rejects.toThrow('bug');
  expect(undelivered).toEqual([]);
  expect(deadLetters).toEqual([]);
});
