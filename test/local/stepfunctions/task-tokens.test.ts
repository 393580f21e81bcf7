import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

/** Task tokens as Step Functions keeps them: settled once, by success, failure or timeout; stale after. */

test('SendTaskSuccess resolves the wait with its output, parsed; the token is then stale (TaskTimedOut)', async () => {
  const tokens = new TaskTokens();
  const token = tokens.issue();
  const waiting = tokens.wait(token, 60);
  tokens.sendTaskSuccess(token, '{"slot":3}');
  await expect(waiting).resolves.toEqual({ slot: 3 });
  expect(() => tokens.sendTaskSuccess(token, '{}')).toThrow(
    expect.objectContaining({ name: 'TaskTimedOut' }),
  );
});

test('a token settled before anyone waits on it is not lost', async () => {
  const tokens = new TaskTokens();
  const token = tokens.issue();
  tokens.sendTaskSuccess(token, '{}'); // the releaser was faster than the message's sender
  await expect(tokens.wait(token, 60)).resolves.toEqual({});
});

test('SendTaskFailure fails the wait with its error and cause', async () => {
  const tokens = new TaskTokens();
  const token = tokens.issue();
  const waiting = tokens.wait(token);
  tokens.sendTaskFailure(token, 'Gate.Closed', 'no slots today');
  await expect(waiting).rejects.toMatchObject({ name: 'Gate.Closed', message: 'no slots today' });
});

test('TimeoutSeconds fails the wait with States.Timeout; a late SendTaskSuccess gets TaskTimedOut', async () => {
  const tokens = new TaskTokens();
  const token = tokens.issue();
  await expect(tokens.wait(token, 0.05)).rejects.toMatchObject({ name: 'States.Timeout' });
  expect(() => tokens.sendTaskSuccess(token, '{}')).toThrow(
    expect.objectContaining({ name: 'TaskTimedOut' }),
  );
});

test('a token never issued is InvalidToken; output that is not JSON is InvalidOutput', () => {
  const tokens = new TaskTokens();
  expect(() => tokens.sendTaskSuccess('made-up', '{}')).toThrow(
    expect.objectContaining({ name: 'InvalidToken' }),
  );
  const token = tokens.issue();
  expect(() => tokens.sendTaskSuccess(token, 'not json')).toThrow(
    expect.objectContaining({ name: 'InvalidOutput' }),
  );
  expect(tokens.isWaiting(token)).toBe(true);
});

test('closed (its execution ended) or stopped: stale, and later waits fail at once', async () => {
  const tokens = new TaskTokens();
  const closed = tokens.issue();
  tokens.close(closed);
  expect(() => tokens.sendTaskSuccess(closed, '{}')).toThrow(
    expect.objectContaining({ name: 'TaskTimedOut' }),
  );
  const waiting = tokens.wait(tokens.issue(), 60);
  tokens.stopAll('stopping');
  await expect(waiting).rejects.toMatchObject({ name: 'States.Aborted' });
  await expect(tokens.wait(tokens.issue(), 60)).rejects.toMatchObject({ name: 'States.Aborted' });
});
