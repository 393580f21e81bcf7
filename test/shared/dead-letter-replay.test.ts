import { DeadLetter, DeadLetterSource, replayDeadLetters } from '../../shared/dead-letter-replay';
import { RuleTargetInputProperties } from '../../shared/input-transformer';
import { synthPipeline } from '../lib/support/synth';

/** An in-memory queue with SQS's contract: a received message is not received again in the same run. */
class MemoryQueue implements DeadLetterSource {
  readonly deleted: string[] = [];
  private readonly pending: DeadLetter[];
  constructor(letters: DeadLetter[]) {
    this.pending = [...letters];
  }
  async receive(max: number) {
    return this.pending.splice(0, max);
  }
  async delete(letter: DeadLetter) {
    this.deleted.push(letter.id);
  }
}

function objectCreated(id: string, key: string) {
  return {
    version: '0',
    id,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2026-11-22T12:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:s3:::data'],
    detail: {
      version: '0',
      bucket: { name: 'data' },
      object: { key, size: 5, etag: 'abc', 'version-id': 'v1', sequencer: '00' },
      reason: 'PutObject',
    },
  };
}

describe('replayDeadLetters', () => {
  let target: RuleTargetInputProperties;

  beforeAll(() => {
    // GIVEN the rule target exactly as synthesized (the transformer has no intrinsics)
    const resources = synthPipeline().template.toJSON().Resources as Record<
      string,
      { Type: string; Properties: { Targets?: RuleTargetInputProperties[] } }
    >;
    const rule = Object.values(resources).find((r) => r.Type === 'AWS::Events::Rule');
    target = rule!.Properties.Targets![0];
  });

  test('starts one execution per event with the transformed input, then deletes the message', async () => {
    const queue = new MemoryQueue([
      { id: 'm1', body: JSON.stringify(objectCreated('e-1', 'incoming/a b+c.txt')) },
      { id: 'm2', body: JSON.stringify(objectCreated('e-2', 'incoming/日本.csv')) },
    ]);
    const started: { input: unknown; name: string }[] = [];

    const report = await replayDeadLetters({
      source: queue,
      target,
      startExecution: async (input, name) => {
        started.push({ input, name });
        return `exec-${name}`;
      },
    });

    expect(started).toEqual([
      {
        name: 'replay-e-1',
        input: { bucket: 'data', key: 'incoming/a b+c.txt', etag: 'abc', size: 5, versionId: 'v1' },
      },
      {
        name: 'replay-e-2',
        input: { bucket: 'data', key: 'incoming/日本.csv', etag: 'abc', size: 5, versionId: 'v1' },
      },
    ]);
    expect(queue.deleted).toEqual(['m1', 'm2']);
    expect(report.replayed.map((o) => o.executionId)).toEqual(['exec-replay-e-1', 'exec-replay-e-2']);
    expect(report.kept).toEqual([]);
  });

  test('keeps a message whose execution could not start, and one that is not an event', async () => {
    const queue = new MemoryQueue([
      { id: 'bad', body: 'not json' },
      { id: 'm1', body: JSON.stringify(objectCreated('e-1', 'incoming/x')) },
    ]);

    const report = await replayDeadLetters({
      source: queue,
      target,
      startExecution: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    });

    expect(queue.deleted).toEqual([]);
    expect(report.replayed).toEqual([]);
    expect(report.kept).toEqual([
      { letterId: 'bad', error: expect.stringContaining('not JSON') },
      { letterId: 'm1', error: 'ThrottlingException: Rate exceeded' },
    ]);
  });
});
