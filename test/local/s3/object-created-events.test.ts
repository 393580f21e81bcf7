import { objectCreatedEvents } from '../../../local/s3/object-created-events';

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
