import { VirtualClock } from '../../../local/clock';
import { LocalQueue, LocalSqs } from '../../../local/sqs/queues';

/** The in-process queue on a virtual clock: long polling, visibility timeouts, deletion, at exact times. */

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
  const queue = new LocalQueue('url', 60, clock);
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
  const queue = new LocalQueue('url', 60, clock);
  expect(await queue.receiveMessage({})).toEqual({});
  expect(await timed(clock, queue.receiveMessage({ WaitTimeSeconds: 5 }))).toEqual({ at: 5_000, value: {} });
});

test('oldest first, MaxNumberOfMessages at most; a received message is invisible for the visibility timeout', async () => {
  const clock = new VirtualClock(0);
  const queue = new LocalQueue('url', 30, clock);
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
  const queue = new LocalQueue('url', 5, clock);
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
  const queue = new LocalQueue('url', 60, clock, 10);
  const received = queue.receiveMessage({});
  void clock.sleep(3_000).then(() => queue.sendMessage('late'));
  const { at, value } = await timed(clock, received);
  expect([at, value.Messages?.map((m) => m.Body)]).toEqual([3_000, ['late']]);
  expect(await timed(clock, queue.receiveMessage({}))).toEqual({ at: 13_000, value: {} });
});
