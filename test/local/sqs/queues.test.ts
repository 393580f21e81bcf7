import { VirtualClock } from '../../../local/clock';
import { withQueueDefaults } from '../../../local/sqs/queue-messages';
import { LocalQueue, LocalSqs } from '../../../local/sqs/queues';

/** The in-process queue on a virtual clock: long polling, visibility timeouts, deletion, at exact times. */

/** A queue with SQS's defaults but for `settings`. */
function queueOn(
  clock: VirtualClock,
  settings: Parameters<typeof withQueueDefaults>[0] extends infer S ? Omit<S, 'url'> : never,
): LocalQueue {
  return new LocalQueue(withQueueDefaults({ url: 'url', ...settings }), clock);
}

/** A receive's answer and the clock's time when it came. */
async function timed<T>(clock: VirtualClock, work: Promise<T>): Promise<{ at: number; value: T }> {
  let at = -1;
  const done = work.then((value) => {
    at = clock.now();
    return value;
  });
  await clock.runAll();
  return { at, value: await done };
}

test('a long poll answers as soon as a message is sent, not after its wait', async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { visibilityTimeoutSeconds: 60 });
  const received = queue.receiveMessage({ WaitTimeSeconds: 20 });
  void clock.sleep(3_000).then(() => queue.sendMessage('token-1'));
  const { at, value } = await timed(clock, received);
  expect(at).toBe(3_000);
  expect(value.Messages).toEqual([
    {
      MessageId: expect.any(String),
      ReceiptHandle: expect.any(String),
      MD5OfBody: '13af16a2186686e926fe14255668ab01', // md5('token-1')
      Body: 'token-1',
    },
  ]);
});

test('an empty queue answers {} after the wait, and at once without one', async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { visibilityTimeoutSeconds: 60 });
  expect(await queue.receiveMessage({})).toEqual({});
  expect(await timed(clock, queue.receiveMessage({ WaitTimeSeconds: 5 }))).toEqual({ at: 5_000, value: {} });
});

test('oldest first, MaxNumberOfMessages at most; a received message is invisible for the visibility timeout', async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { visibilityTimeoutSeconds: 30 });
  const sent = ['a', 'b', 'c'].map((body) => queue.sendMessage(body));
  expect(sent[0]).toEqual({ MessageId: expect.any(String), MD5OfMessageBody: expect.any(String) });
  const first = await queue.receiveMessage({ MaxNumberOfMessages: 2 });
  expect(first.Messages?.map((m) => m.Body)).toEqual(['a', 'b']);
  expect((await queue.receiveMessage({})).Messages?.map((m) => m.Body)).toEqual(['c']);
  expect(await queue.receiveMessage({})).toEqual({}); // all three in flight
  // a long poll started at 25 s gets 'a' back when its visibility timeout passes (30 s), under a new handle
  await clock.advance(25_000);
  const again = await timed(clock, queue.receiveMessage({ WaitTimeSeconds: 20 }));
  expect(again.at).toBe(30_000);
  expect(again.value.Messages?.map((m) => m.Body)).toEqual(['a']);
  expect(again.value.Messages?.[0].ReceiptHandle).not.toBe(first.Messages?.[0].ReceiptHandle);
  // a receive's own VisibilityTimeout overrides the queue's
  const short = await queue.receiveMessage({ VisibilityTimeout: 1 });
  expect(short.Messages?.map((m) => m.Body)).toEqual(['b']);
  await clock.advance(1_000);
  expect((await queue.receiveMessage({})).Messages?.map((m) => m.Body)).toEqual(['b']);
});

test("DeleteMessage: the latest handle deletes; an earlier one, or a deleted message's, succeeds without deleting; a made-up one is ReceiptHandleIsInvalid", async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { visibilityTimeoutSeconds: 5 });
  queue.sendMessage('x');
  const first = (await queue.receiveMessage({})).Messages![0];
  expect(() => queue.deleteMessage('nope')).toThrow(
    expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
  );
  expect(() => queue.deleteMessage(`${first.MessageId}#x`)).toThrow(
    expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
  );
  // received again once its visibility timeout passed: the first handle no longer deletes it
  const second = (await timed(clock, queue.receiveMessage({ WaitTimeSeconds: 20 }))).value.Messages![0];
  expect(clock.now()).toBe(5_000);
  expect(second.ReceiptHandle).not.toBe(first.ReceiptHandle);
  queue.deleteMessage(first.ReceiptHandle);
  expect(queue.size).toBe(1);
  queue.deleteMessage(second.ReceiptHandle);
  expect(queue.size).toBe(0);
  queue.deleteMessage(second.ReceiptHandle); // already deleted: no error, as SQS answers
  expect([queue.sent, queue.deleted]).toEqual([1, 1]);
});

test('a URL that is no queue of the template is QueueDoesNotExist', () => {
  const sqs = new LocalSqs([{ url: 'https://sqs.us-east-1.amazonaws.com/0/Line' }], new VirtualClock());
  expect(sqs.queue('https://sqs.us-east-1.amazonaws.com/0/Line')).toBeInstanceOf(LocalQueue);
  expect(() => sqs.queue('https://sqs.us-east-1.amazonaws.com/0/Other')).toThrow(
    expect.objectContaining({ name: 'QueueDoesNotExist' }),
  );
});

test("a receive that sets no WaitTimeSeconds long-polls for the queue's ReceiveMessageWaitTimeSeconds", async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { visibilityTimeoutSeconds: 60, receiveWaitTimeSeconds: 10 });
  const received = queue.receiveMessage({});
  void clock.sleep(3_000).then(() => queue.sendMessage('late'));
  const { at, value } = await timed(clock, received);
  expect([at, value.Messages?.map((m) => m.Body)]).toEqual([3_000, ['late']]);
  expect(await timed(clock, queue.receiveMessage({}))).toEqual({ at: 13_000, value: {} });
});

test("a message is gone after the queue's retention period, received or not; its deletion is announced", async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { retentionSeconds: 60, visibilityTimeoutSeconds: 120 });
  const gone: string[] = [];
  queue.onDelete((id) => gone.push(id));
  const kept = queue.sendMessage('received');
  await clock.advance(10_000);
  const late = queue.sendMessage('never received');
  expect((await queue.receiveMessage({})).Messages?.map((m) => m.Body)).toEqual(['received']);
  await clock.advance(49_999);
  expect(queue.counts()).toEqual({ visible: 1, inFlight: 1, delayed: 0 });
  await clock.advance(1); // 60 s after the first was sent
  // Dropped when the queue is next read (every read does so first): nothing runs on a timer.
  expect(queue.counts()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
  expect(gone).toEqual([kept.MessageId]);
  await clock.advance(10_000);
  expect([gone, queue.size]).toEqual([[kept.MessageId, late.MessageId], 0]);
  expect(await queue.receiveMessage({})).toEqual({});
  // A message restored with an old SentTimestamp (a dead letter kept across runs) keeps its age.
  queue.sendMessage('restored', { sentTimestampMs: clock.now() - 60_000 });
  expect(queue.size).toBe(0);
});

test("a message is delayed by its own DelaySeconds or else the queue's; a long poll gets it when the delay ends", async () => {
  const clock = new VirtualClock(0);
  const queue = queueOn(clock, { delaySeconds: 5 });
  queue.sendMessage('queue delay');
  queue.sendMessage('own delay', { delaySeconds: 2 });
  queue.sendMessage('no delay', { delaySeconds: 0 });
  expect(queue.counts()).toEqual({ visible: 1, inFlight: 0, delayed: 2 });
  expect((await queue.receiveMessage({})).Messages?.map((m) => m.Body)).toEqual(['no delay']);
  const next = await timed(clock, queue.receiveMessage({ WaitTimeSeconds: 20, MaxNumberOfMessages: 10 }));
  expect([next.at, next.value.Messages?.map((m) => m.Body)]).toEqual([2_000, ['own delay']]);
  expect(queue.counts()).toEqual({ visible: 0, inFlight: 2, delayed: 1 });
  expect(() => queue.sendMessage('x', { delaySeconds: 901 })).toThrow(
    expect.objectContaining({
      name: 'InvalidParameterValue',
      message:
        'Value 901 for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.',
    }),
  );
});

test("a message whose body and attributes pass the queue's MaximumMessageSize is refused, as SQS words it", () => {
  const queue = queueOn(new VirtualClock(0), { maximumMessageSize: 16 });
  // 'k' + 'String' + 'v' = 8 bytes of attributes: a body of 8 bytes fits, 9 do not; 'é' is 2 bytes.
  const attributes = { k: { DataType: 'String', StringValue: 'v' } };
  expect(queue.sendMessage('12345678', { messageAttributes: attributes })).toHaveProperty('MessageId');
  const refused = expect.objectContaining({
    name: 'InvalidParameterValue',
    message: 'One or more parameters are invalid. Reason: Message must be shorter than 16 bytes.',
  });
  expect(() => queue.sendMessage('123456789', { messageAttributes: attributes })).toThrow(refused);
  expect(() => queue.sendMessage('1234567890123456é')).toThrow(refused);
  expect(queue.size).toBe(1);
});
