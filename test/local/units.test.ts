import { containerEnvironment, LocalEcsTaskRunner, placedOnSpot } from '../../local/ecs-task-runner';
import { ExecutionQueue } from '../../local/execution-queue';
import { objectCreatedEvents } from '../../local/s3-events';
import { LocalStateMachine } from '../../local/step-functions';
import type { LocalTaskDefinition, StateMachineDefinition } from '../../local/template';

describe('objectCreatedEvents', () => {
  const record = (eventName: string, object: Record<string, unknown>) => ({
    Records: [
      {
        eventName,
        eventTime: '2026-01-02T03:04:05.678Z',
        requestParameters: { sourceIPAddress: '::ffff:127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'REQ1' },
        s3: { bucket: { name: 'b' }, object: { key: 'in/a b+c%2B.txt', sequencer: '19A', ...object } },
      },
    ],
  });
  const context = { account: '000000000000', region: 'us-east-1' };

  test('a PutObject record becomes the EventBridge event S3 sends, key unencoded, no version-id', async () => {
    const [event] = await objectCreatedEvents(record('ObjectCreated:Put', { size: 5, eTag: 'abc' }), context);
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['arn:aws:s3:::b'],
      detail: {
        version: '0',
        bucket: { name: 'b' },
        object: { key: 'in/a b+c%2B.txt', size: 5, etag: 'abc', sequencer: '19A' },
        'request-id': 'REQ1',
        requester: '000000000000',
        'source-ip-address': '127.0.0.1',
        reason: 'PutObject',
      },
    });
  });

  test('a copy (no ETag from s3rver) is completed by the look-up; deletions give no event', async () => {
    const lookUp = jest.fn(async () => ({ size: 7, etag: '"fromhead"' }));
    const [copy] = await objectCreatedEvents(record('ObjectCreated:Copy', { size: 7 }), {
      ...context,
      lookUp,
    });
    expect(copy.detail).toMatchObject({ reason: 'CopyObject', object: { size: 7, etag: 'fromhead' } });
    expect(lookUp).toHaveBeenCalledWith('b', 'in/a b+c%2B.txt');
    const [multipart] = await objectCreatedEvents(
      record('ObjectCreated:Post', { size: 1, eTag: 'e' }),
      context,
    );
    expect(multipart.detail.reason).toBe('CompleteMultipartUpload');
    expect(await objectCreatedEvents(record('ObjectRemoved:Delete', {}), context)).toEqual([]);
  });
});

describe('containerEnvironment', () => {
  const container = {
    name: 'worker',
    essential: true,
    stopTimeoutSeconds: 30,
    environment: [
      { name: 'OUTPUT_PREFIX', value: 'processed/' },
      { name: 'KEY', value: 'from-task-definition' },
    ],
  };
  test('overrides win by name; a null or missing override value leaves the variable out', () => {
    expect(
      containerEnvironment(container, {
        Environment: [
          { Name: 'KEY', Value: 'a b+c.txt' },
          { Name: 'VERSION_ID', Value: null },
          { Name: 'ETAG' },
        ],
      }),
    ).toEqual({ OUTPUT_PREFIX: 'processed/', KEY: 'a b+c.txt' });
  });
});

test('placedOnSpot follows the capacity provider strategy', () => {
  const strategy = (...providers: Array<[string, number, number?]>) => ({
    TaskDefinition: 'f',
    CapacityProviderStrategy: providers.map(([CapacityProvider, Weight, Base]) => ({
      CapacityProvider,
      Weight,
      Base,
    })),
  });
  expect(placedOnSpot(strategy(['FARGATE_SPOT', 1]))).toBe(true);
  expect(placedOnSpot(strategy(['FARGATE', 1]))).toBe(false);
  expect(placedOnSpot({ TaskDefinition: 'f', LaunchType: 'FARGATE' })).toBe(false);
  expect(placedOnSpot(strategy(['FARGATE', 1, 1], ['FARGATE_SPOT', 4]))).toBe(false);
  expect(placedOnSpot(strategy(['FARGATE', 1], ['FARGATE_SPOT', 4]))).toBe(true);
});

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

test("a task state's TimeoutSeconds stops the task with SIGTERM and fails with States.Timeout", async () => {
  const taskDefinition: LocalTaskDefinition = {
    logicalId: 'T',
    family: 'sleeper',
    arn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/sleeper:1',
    containers: [{ name: 'worker', essential: true, environment: [], stopTimeoutSeconds: 30 }],
  };
  const stopped: Array<number | null | undefined> = [];
  const runner = new LocalEcsTaskRunner({
    taskDefinitions: [taskDefinition],
    // A container that never finishes on its own and dies on SIGTERM.
    command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
    baseEnvironment: {},
    region: 'us-east-1',
    accountId: '000000000000',
  });
  const definition = {
    StartAt: 'Run',
    States: {
      Run: {
        Type: 'Task',
        Resource: 'arn:aws:states:::ecs:runTask.sync',
        Parameters: { TaskDefinition: 'sleeper' },
        TimeoutSeconds: 1,
        End: true,
      },
    },
  } as unknown as StateMachineDefinition;
  const started = Date.now();
  const outcome = await new LocalStateMachine(definition).run({}, (stateName, parameters, state) =>
    runner.run({
      stateName,
      parameters,
      timeoutSeconds: state.TimeoutSeconds as number,
      onAttempt: (attempt) => stopped.push(attempt.exitCode),
    }),
  );
  expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
  expect(Date.now() - started).toBeLessThan(5_000);
  // The child was stopped, not left running: its exit (SIGTERM = 128 + 15) was recorded.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(stopped).toEqual([143]);
});
