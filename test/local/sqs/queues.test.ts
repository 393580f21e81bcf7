import { LocalQueue, LocalSqs } from '../../../local/sqs/queues';

/** The in-process queue: long polling (its wait scaled by 1/100), visibility (as deployed), deletion. */

const SCALE = 0.01;

test('a long poll answers as soon as a message is sent, not after its wait', async () => {
  const queue = new LocalQueue('url', 60, SCALE);
  const started = performance.now();
  const received = queue.receiveMessage({ WaitTimeSeconds: 20 }); // 200 ms scaled
  setTimeout(() => queue.sendMessage('token-1'), 20);
  const { Messages } = await received;
  expect(performance.now() - started).toBeLessThan(150);
  expect(Messages).toEqual([
    {
      MessageId: expect.any(String),
      ReceiptHandle: expect.any(String),
      MD5OfBody: '13af16a2186686e926fe14255668ab01', // md5('token-1')
      Body: 'token-1',
    },
  ]);
});

test('an empty queue answers {} after the scaled wait, and at once without one', async () => {
  const queue = new LocalQueue('url', 60, SCALE);
  expect(await queue.receiveMessage({})).toEqual({});
  const started = performance.now();
  expect(await queue.receiveMessage({ WaitTimeSeconds: 5 })).toEqual({});
  expect(performance.now() - started).toBeGreaterThanOrEqual(45);
});

test('oldest first, MaxNumberOfMessages at most; a received message is invisible for the visibility timeout', async () => {
  // (a visibility timeout is not scaled: 0.1 s here, where the gate's line has 900 s)
  const queue = new LocalQueue('url', 0.1, SCALE);
  const sent = ['a', 'b', 'c'].map((body) => queue.sendMessage(body));
  expect(sent[0]).toEqual({ MessageId: expect.any(String), MD5OfMessageBody: expect.any(String) });
  const first = await queue.receiveMessage({ MaxNumberOfMessages: 2 });
  expect(first.Messages?.map((m) => m.Body)).toEqual(['a', 'b']);
  expect((await queue.receiveMessage({})).Messages?.map((m) => m.Body)).toEqual(['c']);
  expect(await queue.receiveMessage({})).toEqual({}); // all three in flight
  // a long poll gets 'a' back when its visibility timeout passes, under a new receipt handle
  const again = await queue.receiveMessage({ WaitTimeSeconds: 20 });
  expect(again.Messages?.map((m) => m.Body)).toEqual(['a']);
  expect(again.Messages?.[0].ReceiptHandle).not.toBe(first.Messages?.[0].ReceiptHandle);
});

test("DeleteMessage: the latest handle deletes; an earlier one, or a deleted message's, succeeds without deleting; a made-up one is ReceiptHandleIsInvalid", async () => {
  const queue = new LocalQueue('url', 0.05, SCALE);
  queue.sendMessage('x');
  const first = (await queue.receiveMessage({})).Messages![0];
  expect(() => queue.deleteMessage('nope')).toThrow(
    expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
  );
  expect(() => queue.deleteMessage(`${first.MessageId}#x`)).toThrow(
    expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
  );
  // received again once its visibility timeout passed: the first handle no longer deletes it
  const second = (await queue.receiveMessage({ WaitTimeSeconds: 20 })).Messages![0];
  expect(second.ReceiptHandle).not.toBe(first.ReceiptHandle);
  queue.deleteMessage(first.ReceiptHandle);
  expect(queue.size).toBe(1);
  queue.deleteMessage(second.ReceiptHandle);
  expect(queue.size).toBe(0);
  queue.deleteMessage(second.ReceiptHandle); // already deleted: no error, as SQS answers
  expect([queue.sent, queue.deleted]).toEqual([1, 1]);
});

test('a URL that is no queue of the template is QueueDoesNotExist', () => {
  const sqs = new LocalSqs([{ url: 'https://sqs.us-east-1.amazonaws.com/0/Line' }], SCALE);
  expect(sqs.queue('https://sqs.us-east-1.amazonaws.com/0/Line')).toBeInstanceOf(LocalQueue);
  expect(() => sqs.queue('https://sqs.us-east-1.amazonaws.com/0/Other')).toThrow(
    expect.objectContaining({ name: 'QueueDoesNotExist' }),
  );
});

test("a receive that sets no WaitTimeSeconds long-polls for the queue's ReceiveMessageWaitTimeSeconds", async () => {
  const queue = new LocalQueue('url', 60, SCALE, 10); // a 10 s default long poll: 100 ms scaled
  const started = performance.now();
  const received = queue.receiveMessage({});
  setTimeout(() => queue.sendMessage('late'), 30);
  expect((await received).Messages?.map((m) => m.Body)).toEqual(['late']);
  expect(performance.now() - started).toBeLessThan(90);
});
