import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';

import { executionLine } from '../../../local/cli/report';
import {
  FargateQuotas,
  LAUNCH_BURST,
  launchRefusalError,
  RUN_TASK_BURST,
  TokenBucket,
} from '../../../local/ecs/fargate-quotas';
import type { LocalPipeline } from '../../../local/pipeline';
import { releasedAfterEach, startTestPipeline } from '../support/pipeline';
import { synthesizedTemplate } from '../support/synthesized-template';

/** Fargate's account quotas: the model alone, then a burst through the local pipeline. */

describe('TokenBucket', () => {
  test('gives its capacity at once, then refills at its rate, never above capacity', () => {
    const bucket = new TokenBucket(3, 2, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(0.4)).toBe(false); // 0.8 tokens
    expect(bucket.take(0.5)).toBe(true); // 1 token
    expect([bucket.take(100), bucket.take(100), bucket.take(100), bucket.take(100)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });
});

describe('FargateQuotas', () => {
  test('counts each task by its vCPU: 1 vCPU holds 4 tasks of 256 CPU units or 1 of 1024', () => {
    const quotas = new FargateQuotas({ vcpuQuota: 1 }, 0);
    expect([1, 2, 3, 4, 5].map(() => quotas.runTask('FARGATE', 256, 0))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      'vcpu-quota',
    ]);
    expect(quotas.runTask('FARGATE', 1024, 0)).toBe('vcpu-quota');
    quotas.release('FARGATE', 256);
    expect(quotas.runTask('FARGATE', 256, 0)).toBeUndefined();
    expect(quotas.peakRunningTasks).toBe(4);
  });

  test('On-Demand and Spot have separate vCPU quotas', () => {
    const quotas = new FargateQuotas({ vcpuQuota: 0.25, spotVcpuQuota: 0.5 }, 0);
    expect(quotas.runTask('FARGATE', 256, 0)).toBeUndefined();
    expect(quotas.runTask('FARGATE', 256, 0)).toBe('vcpu-quota');
    expect(quotas.runTask('FARGATE_SPOT', 256, 0)).toBeUndefined();
    expect(quotas.runTask('FARGATE_SPOT', 256, 0)).toBeUndefined();
    expect(quotas.runTask('FARGATE_SPOT', 256, 0)).toBe('vcpu-quota');
    expect(quotas.peakRunningTasks).toBe(3);
  });

  test('launches: a bucket of 100 per capacity type, refilled at 20 a second', () => {
    const quotas = new FargateQuotas({ vcpuQuota: 1000, spotVcpuQuota: 1000 }, 0);
    // spread over 5 s so RunTask's own rate (100 burst + 20/s) is not what refuses them
    const launched = (capacity: 'FARGATE' | 'FARGATE_SPOT', from: number) =>
      Array.from({ length: 120 }, (_, i) => quotas.runTask(capacity, 256, from + i / 1000)).filter(
        (r) => r === undefined,
      ).length;
    expect(launched('FARGATE', 0)).toBe(LAUNCH_BURST + 2); // 100, plus 20/s for 0.12 s
    expect(quotas.runTask('FARGATE', 256, 5)).toBeUndefined(); // refilled (and RunTask's bucket too)
  });

  test("every RunTask call counts against the API's rate, refused or not: 100 at once, then 20 a second", () => {
    const quotas = new FargateQuotas({ vcpuQuota: 0 }, 0);
    const refusals = Array.from({ length: RUN_TASK_BURST + 1 }, () => quotas.runTask('FARGATE', 256, 0));
    expect(refusals.slice(0, RUN_TASK_BURST).every((r) => r === 'vcpu-quota')).toBe(true);
    expect(refusals[RUN_TASK_BURST]).toBe('throttled');
    expect(quotas.runTask('FARGATE', 256, 0.04)).toBe('throttled');
    expect(quotas.runTask('FARGATE', 256, 0.06)).toBe('vcpu-quota'); // one token after 1/20 s
  });

  test('refusals come back as Step Functions reports them', () => {
    expect(launchRefusalError('vcpu-quota', 'r-1')).toEqual({
      name: 'AmazonECS.Unknown',
      cause: expect.stringMatching(
        /^You've reached the limit on the number of vCPUs you can run concurrently .*r-1/,
      ),
    });
    for (const refusal of ['throttled', 'launch-rate'] as const) {
      expect(launchRefusalError(refusal, 'r-2')).toEqual({
        name: 'ECS.AmazonECSException',
        cause: expect.stringMatching(/^Rate exceeded .*ThrottlingException.*r-2/),
      });
    }
  });

  test('a quota that is not a number of vCPU is refused, naming the fix', () => {
    expect(() => new FargateQuotas({ vcpuQuota: -1 }, 0)).toThrow(
      /vCPU quota -1 is not valid: use a number of vCPU of at least 0/,
    );
  });
});

describe('a burst through the local pipeline', () => {
  const used = releasedAfterEach();
  const keys = Array.from(
    { length: 40 },
    (_, i) => `incoming/burst/object-${String(i).padStart(2, '0')}.txt`,
  );
  /**
   * Tasks that run 0.2 s and exit 0: what these tests count is how many run at once and how often
   * they are launched, not what they do (pipeline.test.ts bursts the bundled worker, ~0.2 s of CPU a
   * task; 80 of them were most of this file's time).
   */
  const workerCommand = ['/bin/sh', '-c', 'sleep 0.2'];
  const burst = async (pipeline: LocalPipeline) => {
    // every execution starts at once, none is queued
    await Promise.all(keys.map((key) => pipeline.upload(key, `body of ${key}\n`)));
    await pipeline.waitForIdle();
    return pipeline.executions();
  };
  /** The launch gate's records (lib/launch-gate.ts): who holds a slot, who waits. */
  const gate = async (pipeline: LocalPipeline) => {
    const TableName = pipeline.dynamodb.tables[0].tableName;
    const slots = await pipeline.dynamodb.client.send(
      new GetItemCommand({
        TableName,
        Key: { pk: { S: 'slots' }, sk: { S: 'slots' } },
        ConsistentRead: true,
      }),
    );
    const waiters = await pipeline.dynamodb.client.send(
      new QueryCommand({
        TableName,
        KeyConditionExpression: 'pk = :waiters',
        ExpressionAttributeValues: { ':waiters': { S: 'waiters' } },
        ConsistentRead: true,
      }),
    );
    return {
      holders: slots.Item?.holders?.SS?.length ?? 0,
      waiters: waiters.Count ?? 0,
      limit: slots.Item?.limit?.N,
    };
  };

  test('40 objects with --fargate-vcpu-quota 1 against the default stack (24 slots): all succeed, at most 4 tasks at once, launches retried', async () => {
    // GIVEN a 1-vCPU account (4 tasks of 0.25 vCPU) and a gate sized for 6 vCPU: 24 executions hold a slot
    const pipeline = (used.pipeline = await startTestPipeline(await synthesizedTemplate(), {
      fargateVcpuQuota: 1,
      workerCommand,
    }));
    // WHEN 40 objects arrive at once
    const executions = await burst(pipeline);

    // THEN every object succeeds, the quota bounded the tasks, and holders retried refused launches
    expect(executions.map((e) => e.key).sort()).toEqual(keys);
    expect(executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(40);
    expect(pipeline.peakRunningTasks()).toBeLessThanOrEqual(4);
    expect(pipeline.peakRunningTasks()).toBeGreaterThanOrEqual(2);
    const retried = executions.filter((e) => e.attempts.length > 1);
    expect(retried.length).toBeGreaterThan(0);
    const refused = retried.flatMap((e) => e.attempts.slice(0, -1).map((a) => a.error));
    expect(refused.filter((e) => e !== 'AmazonECS.Unknown' && e !== 'ECS.AmazonECSException')).toEqual([]);
    expect(refused).toContain('AmazonECS.Unknown'); // the vCPU quota, as Step Functions reports it
    expect(await gate(pipeline)).toEqual({ holders: 0, waiters: 0, limit: '24' });
    // the reconciler ran on the same engine and clock (its schedule, every minute of it), unlisted
    expect(pipeline.stepFunctions.executions().filter((e) => e.express).length).toBeGreaterThan(0);
  });

  test('the same burst against a stack synthesized with -c fargateVcpuQuota=1 (4 slots): executions wait in line, one launch each', async () => {
    // GIVEN the gate sized for the account: 4 slots
    const pipeline = (used.pipeline = await startTestPipeline(
      await synthesizedTemplate({ fargateVcpuQuota: '1' }),
      { fargateVcpuQuota: 1, workerCommand },
    ));
    // WHEN 40 objects arrive at once
    const executions = await burst(pipeline);

    // THEN every object succeeds with exactly one RunTask: the rest waited in line with a task token
    expect(executions.filter((e) => e.status === 'SUCCEEDED')).toHaveLength(40);
    expect(pipeline.peakRunningTasks()).toBeLessThanOrEqual(4);
    expect(executions.map((e) => e.attempts.length)).toEqual(executions.map(() => 1));
    // every waiter woken and its item deleted, every slot given back
    expect(await gate(pipeline)).toEqual({ holders: 0, waiters: 0, limit: '4' });
    // AND the record of each woken execution has its wait, which its report line names
    const waited = executions.filter((e) => e.tokenWaits.length > 0);
    expect(waited.length).toBeGreaterThanOrEqual(20); // ~36 of 40 found every slot taken
    for (const execution of waited) {
      expect(execution.tokenWaits).toEqual([
        { stateName: 'WaitForLaunchSlot', waitedMs: expect.any(Number) },
      ]);
      expect(executionLine(execution)).toMatch(/ \(waited \d+ ms in WaitForLaunchSlot\)$/);
    }
  });
});
