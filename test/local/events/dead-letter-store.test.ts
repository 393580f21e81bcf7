import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { VirtualClock } from '../../../local/clock';
import { type DeadLetterAttributes, DeadLetterStore } from '../../../local/events/dead-letter-store';
import { LocalSqs } from '../../../local/sqs/queues';

/**
 * The dead-letter queue is a queue of the local SQS, and its messages outlive a restart as files:
 * one written per message sent, removed when a client deletes the message, read back on start.
 */

const URL = 'http://127.0.0.1:4566/000000000000/DeadLetters';
const ATTRIBUTES: DeadLetterAttributes = {
  RULE_ARN: 'arn:aws:events:us-east-1:000000000000:rule/Rule',
  TARGET_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:Workflow',
  ERROR_CODE: 'THROTTLING',
  ERROR_MESSAGE: 'Rate exceeded',
  EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
  RETRY_ATTEMPTS: '185',
};

let directory: string;
beforeEach(() => {
  directory = join(mkdtempSync(join(tmpdir(), 'dead-letter-store-')), 'dead-letters');
});
afterEach(() => rmSync(join(directory, '..'), { recursive: true, force: true }));

const RETENTION_SECONDS = 1_209_600; // the template's 14 days
let clock: VirtualClock;
beforeEach(() => {
  clock = new VirtualClock();
});

/** A store over a fresh queue, as `npm start` builds it on each start (on one clock across starts here). */
function start(): DeadLetterStore {
  return new DeadLetterStore(
    directory,
    new LocalSqs([{ url: URL, retentionSeconds: RETENTION_SECONDS }], clock).queue(URL),
  );
}

test('a message sent survives a restart with its id, body and attributes; deleting it removes its file', async () => {
  const file = start().put({ id: 'event-1' }, ATTRIBUTES);
  expect(readdirSync(directory)).toEqual([file.slice(directory.length + 1)]);

  const restarted = start();
  expect(restarted.count()).toBe(1);
  const { Messages } = await restarted.queue.receiveMessage({ MaxNumberOfMessages: 10 });
  const [message] = Messages!;
  expect(message.Body).toBe('{"id":"event-1"}');
  expect(file).toContain(message.MessageId);
  expect(restarted.queue.details(message.MessageId)?.messageAttributes).toEqual({
    RULE_ARN: { DataType: 'String', StringValue: ATTRIBUTES.RULE_ARN },
    TARGET_ARN: { DataType: 'String', StringValue: ATTRIBUTES.TARGET_ARN },
    ERROR_CODE: { DataType: 'String', StringValue: 'THROTTLING' },
    ERROR_MESSAGE: { DataType: 'String', StringValue: 'Rate exceeded' },
    EXHAUSTED_RETRY_CONDITION: { DataType: 'String', StringValue: 'MaximumRetryAttempts' },
    RETRY_ATTEMPTS: { DataType: 'String', StringValue: '185' },
  });

  restarted.queue.deleteMessage(message.ReceiptHandle);
  expect(readdirSync(directory)).toEqual([]);
  expect(start().count()).toBe(0);
});

test('a purge removes every file', () => {
  const store = start();
  store.put({ id: 'a' }, ATTRIBUTES);
  store.put({ id: 'b' }, ATTRIBUTES);
  store.queue.purge();
  expect(readdirSync(directory)).toEqual([]);
});

test('a file that is not a message goes back in the queue as its text, and stays until deleted', async () => {
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'hand-written.json'), 'not json');
  const store = start();
  const { Messages } = await store.queue.receiveMessage();
  expect(Messages?.map((m) => [m.MessageId, m.Body])).toEqual([['hand-written.json', 'not json']]);
  store.queue.deleteMessage(Messages![0].ReceiptHandle);
  expect(readdirSync(directory)).toEqual([]);
});

test("a dead letter past the queue's retention period is gone, file and all, as SQS deletes it; one within it stays", async () => {
  const store = start();
  const old = store.put({ id: 'old' }, ATTRIBUTES);
  await clock.advance(RETENTION_SECONDS * 1000 - 1_000);
  const recent = store.put({ id: 'recent' }, ATTRIBUTES);
  // Its SentTimestamp is the pipeline clock's, the clock the retention period runs on.
  expect(readdirSync(directory).sort()).toEqual(
    [old, recent].map((file) => file.slice(directory.length + 1)).sort(),
  );
  expect(recent).toContain(`${clock.now()}-`);
  await clock.advance(1_000);
  // Restarted 14 days after the first was sent: only the second goes back in.
  const restarted = start();
  expect(readdirSync(directory)).toEqual([recent.slice(directory.length + 1)]);
  const { Messages } = await restarted.queue.receiveMessage({ MaxNumberOfMessages: 10 });
  expect(Messages?.map((m) => m.Body)).toEqual(['{"id":"recent"}']);
  // And in a running pipeline, when the second's 14 days pass.
  await clock.advance(RETENTION_SECONDS * 1000);
  expect(restarted.count()).toBe(0);
  expect(readdirSync(directory)).toEqual([]);
});
