import type { Json } from '../../../local/simulate/asl';
import { EventQueue } from '../../../local/simulate/event-queue';
import { SqsQueues } from '../../../local/simulate/sqs-queues';

/** The line: long polls, visibility timeouts and deletes, in virtual time. */

const URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/Line';

function setup() {
  const clock = new EventQueue<() => void>();
  const sqs = new SqsQueues(clock, { [URL]: { visibilityTimeoutSeconds: 60, receiveWaitTimeSeconds: 0 } });
  const answers: Array<[number, Json]> = [];
  const receive = (waitSeconds: number) =>
    sqs.receiveMessage({ QueueUrl: URL, MaxNumberOfMessages: 1, WaitTimeSeconds: waitSeconds }, (result) =>
      answers.push([clock.now, result]),
    );
  const run = () => {
    for (let event = clock.next(); event; event = clock.next()) event();
  };
  return { clock, sqs, answers, receive, run };
}

test('a long poll on an empty queue gets a message sent while it waits, at once', () => {
  const { clock, sqs, answers, receive, run } = setup();
  receive(20);
  clock.schedule(5, () => sqs.sendMessage(URL, 'token-1'));
  run();
  expect(answers).toEqual([
    [
      5,
      {
        Messages: [
          {
            MessageId: expect.any(String),
            ReceiptHandle: expect.stringMatching(/#1$/),
            MD5OfBody: '13af16a2186686e926fe14255668ab01', // md5('token-1')
            Body: 'token-1',
          },
        ],
      },
    ],
  ]);
});

test('a long poll that finds nothing answers {} when its WaitTimeSeconds pass', () => {
  const { answers, receive, run } = setup();
  receive(20);
  run();
  expect(answers).toEqual([[20, {}]]);
});

test('a received message is hidden for the visibility timeout, then received again unless deleted', () => {
  const { clock, sqs, answers, receive, run } = setup();
  sqs.sendMessage(URL, 'token-1');
  receive(0);
  clock.schedule(30, () => receive(0));
  clock.schedule(61, () => receive(0));
  run();
  expect(
    answers.map(([time, result]) => [time, (result as { Messages?: Json[] }).Messages?.length ?? 0]),
  ).toEqual([
    [0, 1],
    [30, 0],
    [61, 1],
  ]);
  // the first receipt handle is out of date: it succeeds without deleting, as SQS documents
  const handles = answers.flatMap(
    ([, result]) => (result as { Messages?: Array<{ ReceiptHandle: string }> }).Messages ?? [],
  );
  sqs.deleteMessage(URL, handles[0].ReceiptHandle);
  expect(sqs.messagesLeft()).toBe(1);
  sqs.deleteMessage(URL, handles[1].ReceiptHandle);
  expect(sqs.messagesLeft()).toBe(0);
  // 1 send, 3 receives, 2 deletes
  expect(sqs.requests).toBe(6);
});

test('messages come out oldest first', () => {
  const { sqs, answers, receive, run } = setup();
  sqs.sendMessage(URL, 'first');
  sqs.sendMessage(URL, 'second');
  receive(0);
  receive(0);
  run();
  expect(
    answers.map(([, result]) => (result as { Messages: Array<{ Body: string }> }).Messages[0].Body),
  ).toEqual(['first', 'second']);
});
