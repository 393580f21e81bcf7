import { VirtualClock } from '../../../local/clock';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

/** Task tokens as Step Functions keeps them: settled once, by success, failure or heartbeat timeout; stale after. */

test('SendTaskSuccess resolves the wait with its output, parsed; the token is then stale (TaskTimedOut)', async () => {
  const tokens = new TaskTokens(new VirtualClock());
  const token = tokens.issue();
  const waiting = tokens.wait(token);
  tokens.sendTaskSuccess(token, '{"slot":3}');
  await expect(waiting).resolves.toEqual({ slot: 3 });
  expect(() => tokens.sendTaskSuccess(token, '{}')).toThrow(
    expect.objectContaining({ name: 'TaskTimedOut' }),
  );
});

test('a token settled before anyone waits on it is not lost', async () => {
  const tokens = new TaskTokens(new VirtualClock());
  const token = tokens.issue();
  tokens.sendTaskSuccess(token, '{}'); // the releaser was faster than the message's sender
  await expect(tokens.wait(token)).resolves.toEqual({});
});

test('SendTaskFailure fails the wait with its error and cause', async () => {
  const tokens = new TaskTokens(new VirtualClock());
  const token = tokens.issue();
  const waiting = tokens.wait(token);
  tokens.sendTaskFailure(token, 'Gate.Closed', 'no slots today');
  await expect(waiting).rejects.toMatchObject({ name: 'Gate.Closed', message: 'no slots today' });
});

test('HeartbeatSeconds: each SendTaskHeartbeat restarts the count; silence fails with States.HeartbeatTimeout', async () => {
  const clock = new VirtualClock();
  const tokens = new TaskTokens(clock);
  const token = tokens.issue();
  const waiting = tokens.wait(token, 10);
  let settled = false;
  waiting.catch(() => (settled = true));
  await clock.advance(9_999);
  tokens.sendTaskHeartbeat(token);
  await clock.advance(9_999);
  expect(settled).toBe(false);
  await clock.advance(1);
  await expect(waiting).rejects.toMatchObject({ name: 'States.HeartbeatTimeout' });
  expect(() => tokens.sendTaskHeartbeat(token)).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));
});

test('a token never issued is InvalidToken; output that is not JSON is InvalidOutput and leaves it waiting', () => {
  const tokens = new TaskTokens(new VirtualClock());
  expect(() => tokens.sendTaskSuccess('made-up', '{}')).toThrow(
    expect.objectContaining({ name: 'InvalidToken' }),
  );
  const token = tokens.issue();
  expect(() => tokens.sendTaskSuccess(token, 'not json')).toThrow(
    expect.objectContaining({ name: 'InvalidOutput' }),
  );
  expect(tokens.isWaiting(token)).toBe(true);
});

test('closed (its task or execution ended): stale for every call', () => {
  const tokens = new TaskTokens(new VirtualClock());
  const closed = tokens.issue();
  tokens.close(closed);
  for (const call of [
    () => tokens.sendTaskSuccess(closed, '{}'),
    () => tokens.sendTaskFailure(closed),
    () => tokens.sendTaskHeartbeat(closed),
  ]) {
    expect(call).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));
  }
});
