import { DeliveryError, TargetDelivery, type UndeliveredEvent } from '../../../local/events/target-delivery';

/** EventBridge's delivery rules on their own; dead-letters.test.ts runs them through the whole pipeline. */

const RULE_ARN = 'arn:aws:events:us-east-1:000000000000:rule/r';
const TARGET_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:s';
const event = { id: 'e-1', detail: { object: { key: 'incoming/a b.txt' } } };

/**
 * A target with the deployed RetryPolicy (185 attempts, 24 h) unless told otherwise, at the default
 * retry scale: 185 retries take ~3 s of the 8.6 s of scaled event age, robust to a loaded machine.
 */
function delivery({
  maximumRetryAttempts = 185,
  maximumEventAgeInSeconds = 86_400,
  retryScale = 1e-4,
}: {
  maximumRetryAttempts?: number;
  maximumEventAgeInSeconds?: number;
  retryScale?: number;
}) {
  const undelivered: UndeliveredEvent[] = [];
  const target = new TargetDelivery({
    ruleArn: RULE_ARN,
    targetArn: TARGET_ARN,
    retryPolicy: { maximumRetryAttempts, maximumEventAgeInSeconds },
    retryScale,
    onUndelivered: (u) => undelivered.push(u),
  });
  return { target, undelivered };
}

async function settled(target: TargetDelivery): Promise<void> {
  while (target.retrying > 0) await new Promise((resolve) => setTimeout(resolve, 5));
}

const throttled = () => new DeliveryError('THROTTLING', 'ThrottlingException: Rate exceeded', true);

/** Delivers `event` with every attempt throttled; resolves to the number of attempts once it gave up. */
async function deliverThrottled(target: TargetDelivery): Promise<number> {
  let attempts = 0;
  target.deliver(event, () => {
    attempts++;
    throw throttled();
  });
  await settled(target);
  return attempts;
}

test('a target input that is not JSON is dead-lettered at once, unretried, with no exhausted condition', async () => {
  const { target, undelivered } = delivery({});
  let attempts = 0;
  const result = target.deliver(event, () => {
    attempts++;
    throw new DeliveryError('INVALID_JSON', 'Target input is not valid JSON', false);
  });
  await settled(target);

  expect(result).toBeUndefined();
  expect(attempts).toBe(1);
  expect(undelivered).toEqual([
    {
      event,
      file: undefined, // no dead-letter queue: dropped, as EventBridge drops it
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

test('retries stop at MaximumEventAgeInSeconds when that comes before MaximumRetryAttempts', async () => {
  // 60 s of event age, scaled to 600 ms (room for a retry on a loaded machine); 185 attempts would take far longer.
  const { target, undelivered } = delivery({ maximumEventAgeInSeconds: 60, retryScale: 1e-2 });
  const attempts = await deliverThrottled(target);

  expect(undelivered).toHaveLength(1);
  const { attributes } = undelivered[0];
  expect(attributes).toMatchObject({
    ERROR_CODE: 'THROTTLING',
    EXHAUSTED_RETRY_CONDITION: 'MaximumEventAgeInSeconds',
  });
  expect(Number(attributes.RETRY_ATTEMPTS)).toBe(attempts - 1);
  expect(attempts).toBeGreaterThan(1);
  expect(attempts).toBeLessThan(186);
});

test('retries stop at MaximumRetryAttempts when that comes first', async () => {
  const { target, undelivered } = delivery({ maximumRetryAttempts: 3 });

  expect(await deliverThrottled(target)).toBe(4);
  expect(undelivered.map((u) => u.attributes)).toEqual([
    expect.objectContaining({ EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts', RETRY_ATTEMPTS: '3' }),
  ]);
});

test('a retry that succeeds delivers the event, and nothing is dead-lettered', async () => {
  const { target, undelivered } = delivery({});
  const delivered: string[] = [];
  let attempts = 0;
  target.deliver(event, () => {
    if (++attempts < 3) throw throttled();
    delivered.push(event.id);
  });
  await settled(target);

  expect(delivered).toEqual(['e-1']);
  expect(undelivered).toEqual([]);
});
