import { ExecutionQueue } from '../../../local/stepfunctions/execution-queue';

test('ExecutionQueue runs at most `concurrency` jobs and reports idle', async () => {
  const queue = new ExecutionQueue(2);
  let running = 0;
  let peak = 0;
  const job = async () => {
    peak = Math.max(peak, ++running);
    await new Promise((resolve) => setTimeout(resolve, 10));
    running--;
  };
  const done = Promise.all(Array.from({ length: 7 }, () => queue.add(job)));
  expect(queue.queued).toBe(5);
  await queue.onIdle();
  await done;
  expect({ peak, running: queue.running, queued: queue.queued }).toEqual({ peak: 2, running: 0, queued: 0 });
});
