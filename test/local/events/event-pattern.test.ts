import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';

import {
  compileEventPattern,
  InvalidEventPatternError,
  matchesEventPattern,
  validateEventPattern,
} from '../../../local/events/event-pattern';

const PATTERNS_PAGE = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html';
const FILTERING_PAGE =
  'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html';
const OPERATORS_PAGE =
  'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html';
const ARRAYS_PAGE = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html';

/** The EC2 state-change event used throughout the EventBridge user guide. */
const ec2Event = (detail: Record<string, unknown>) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', ...detail },
});

interface DocumentedExample {
  readonly name: string;
  /** The page the pattern comes from. */
  readonly page: string;
  readonly pattern: unknown;
  readonly matching: readonly unknown[];
  readonly notMatching: readonly unknown[];
}

const documentedExamples: DocumentedExample[] = [
  {
    name: 'EC2 instance-termination events',
    page: PATTERNS_PAGE,
    pattern: {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    },
    matching: [ec2Event({ state: 'terminated' })],
    notMatching: [ec2Event({ state: 'running' }), { ...ec2Event({ state: 'terminated' }), source: 'aws.s3' }],
  },
  {
    name: 'a list of values is an OR',
    page: PATTERNS_PAGE,
    pattern: { source: ['aws.ec2', 'aws.fargate'] },
    matching: [{ source: 'aws.ec2' }, { source: 'aws.fargate' }],
    notMatching: [{ source: 'aws.s3' }, {}],
  },
  {
    name: 'null value (Auto Scaling launch event)',
    page: PATTERNS_PAGE,
    pattern: {
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance Launch Successful'],
      detail: { responseElements: [null] },
    },
    matching: [
      {
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance Launch Successful',
        resources: [],
        detail: { eventVersion: '', responseElements: null },
      },
    ],
    notMatching: [
      {
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance Launch Successful',
        detail: { eventVersion: '' },
      },
      {
        source: 'aws.autoscaling',
        'detail-type': 'EC2 Instance Launch Successful',
        detail: { responseElements: 'null' },
      },
    ],
  },
  {
    name: 'empty string',
    page: OPERATORS_PAGE,
    pattern: { LastName: [''] },
    matching: [{ LastName: '' }],
    notMatching: [{ LastName: 'Doe' }, { LastName: null }, {}],
  },
  {
    name: 'numbers nested two levels deep (Macie alert)',
    page: PATTERNS_PAGE,
    pattern: {
      source: ['aws.macie'],
      'detail-type': ['Macie Alert'],
      detail: { 'risk-score': [80], trigger: { risk: [8] } },
    },
    matching: [
      {
        source: 'aws.macie',
        'detail-type': 'Macie Alert',
        detail: {
          'risk-score': 80,
          tags: ['Custom_Alert', 'Insider'],
          trigger: { risk: 8, 'alert-type': 'basic' },
        },
      },
    ],
    notMatching: [
      {
        source: 'aws.macie',
        'detail-type': 'Macie Alert',
        detail: { 'risk-score': 80, trigger: { risk: 9 } },
      },
      {
        source: 'aws.macie',
        'detail-type': 'Macie Alert',
        detail: { 'risk-score': '80', trigger: { risk: 8 } },
      },
    ],
  },
  {
    name: 'event arrays match when they intersect the pattern values',
    page: ARRAYS_PAGE,
    pattern: {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    },
    matching: [
      {
        resources: [
          'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate',
          'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        ],
      },
    ],
    notMatching: [
      { resources: ['arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f'] },
      { resources: [] },
    ],
  },
  {
    name: 'prefix',
    page: FILTERING_PAGE,
    pattern: { time: [{ prefix: '2017-10-02' }] },
    matching: [{ time: '2017-10-02T18:43:48Z' }],
    notMatching: [{ time: '2017-10-03T18:43:48Z' }, { time: 20171002 }],
  },
  {
    name: 'prefix ignoring case',
    page: FILTERING_PAGE,
    pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
    matching: [{ detail: { service: 'EventBridge' } }, { detail: { service: 'EVENTBRIDGE' } }],
    notMatching: [{ detail: { service: 'Amazon EventBridge' } }],
  },
  {
    name: 'suffix',
    page: FILTERING_PAGE,
    pattern: { FileName: [{ suffix: '.png' }] },
    matching: [{ FileName: 'image.png' }],
    notMatching: [{ FileName: 'image.PNG' }, { FileName: 'image.png.jpg' }],
  },
  {
    name: 'suffix ignoring case',
    page: FILTERING_PAGE,
    pattern: { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
    matching: [{ detail: { FileName: 'image.PNG' } }, { detail: { FileName: 'image.png' } }],
    notMatching: [{ detail: { FileName: 'image.jpg' } }],
  },
  {
    name: 'equals ignoring case',
    page: OPERATORS_PAGE,
    pattern: { Name: [{ 'equals-ignore-case': 'alice' }] },
    matching: [{ Name: 'Alice' }, { Name: 'ALICE' }],
    notMatching: [{ Name: 'Alicia' }],
  },
  {
    name: 'anything-but a string',
    page: FILTERING_PAGE,
    pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } },
    matching: [ec2Event({ state: 'running' })],
    // An absent field is not "anything but": it is nothing.
    notMatching: [ec2Event({ state: 'initializing' }), ec2Event({})],
  },
  {
    name: 'anything-but a number',
    page: FILTERING_PAGE,
    pattern: { detail: { 'x-limit': [{ 'anything-but': 123 }] } },
    matching: [{ detail: { 'x-limit': 124 } }],
    notMatching: [{ detail: { 'x-limit': 123 } }],
  },
  {
    name: 'anything-but a list of strings',
    page: FILTERING_PAGE,
    pattern: { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    matching: [ec2Event({ state: 'running' })],
    notMatching: [ec2Event({ state: 'stopped' }), ec2Event({ state: 'overloaded' })],
  },
  {
    name: 'anything-but a list of numbers',
    page: FILTERING_PAGE,
    pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
    matching: [{ detail: { 'x-limit': 150 } }],
    notMatching: [{ detail: { 'x-limit': 200 } }],
  },
  {
    name: 'anything-but a prefix',
    page: FILTERING_PAGE,
    pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
    matching: [ec2Event({ state: 'running' })],
    notMatching: [ec2Event({ state: 'initializing' })],
  },
  {
    name: 'anything-but a suffix',
    page: FILTERING_PAGE,
    pattern: { detail: { FileName: [{ 'anything-but': { suffix: '.png' } }] } },
    matching: [{ detail: { FileName: 'image.jpg' } }],
    notMatching: [{ detail: { FileName: 'image.png' } }],
  },
  {
    name: 'anything-but ignoring case',
    page: FILTERING_PAGE,
    pattern: {
      detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'stopped'] } }] },
    },
    matching: [ec2Event({ state: 'running' })],
    notMatching: [ec2Event({ state: 'INITIALIZING' }), ec2Event({ state: 'Stopped' })],
  },
  {
    name: 'anything-but a wildcard',
    page: FILTERING_PAGE,
    pattern: { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } },
    matching: [{ detail: { FilePath: '/user/src/main.c' } }],
    notMatching: [{ detail: { FilePath: '/user/lib/libc.so' } }],
  },
  {
    name: 'numeric ranges and equality',
    page: FILTERING_PAGE,
    pattern: {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    },
    matching: [{ detail: { 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 } }],
    notMatching: [
      { detail: { 'c-count': 0, 'd-count': 3, 'x-limit': 301.8 } },
      { detail: { 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 } },
      { detail: { 'c-count': '5', 'd-count': 3, 'x-limit': 301.8 } },
    ],
  },
  {
    name: 'IPv4 CIDR',
    page: FILTERING_PAGE,
    pattern: { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } },
    matching: [{ detail: { sourceIPAddress: '10.0.0.0' } }, { detail: { sourceIPAddress: '10.0.0.255' } }],
    notMatching: [
      { detail: { sourceIPAddress: '10.0.1.0' } },
      { detail: { sourceIPAddress: 'not-an-ip' } },
      { detail: { sourceIPAddress: '::ffff:10.0.0.1' } },
    ],
  },
  {
    name: 'IPv6 CIDR',
    page: FILTERING_PAGE,
    pattern: { detail: { sourceIPAddress: [{ cidr: '2001:db8::/32' }] } },
    matching: [
      { detail: { sourceIPAddress: '2001:DB8:0:1::7' } },
      { detail: { sourceIPAddress: '2001:db8::' } },
    ],
    notMatching: [
      { detail: { sourceIPAddress: '2001:db9::1' } },
      { detail: { sourceIPAddress: '10.0.0.1' } },
    ],
  },
  {
    name: 'exists: true',
    page: FILTERING_PAGE,
    pattern: { detail: { state: [{ exists: true }] } },
    matching: [ec2Event({ state: 'pending' }), ec2Event({ state: null })],
    notMatching: [{ detail: { 'c-count': { c1: 100 } } }, { source: 'aws.ec2' }],
  },
  {
    name: 'exists: false only looks at leaf values',
    page: FILTERING_PAGE,
    pattern: { detail: { 'c-count': [{ exists: false }] } },
    matching: [
      { detail: { state: ['initializing', 'running'] } },
      { detail: { state: 'running', 'c-count': { c1: 100 } } },
      { source: 'aws.ec2' },
    ],
    notMatching: [{ detail: { 'c-count': 5 } }, { detail: { 'c-count': [1, 2] } }],
  },
  {
    name: 'anything-but and numeric combined',
    page: FILTERING_PAGE,
    pattern: {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
      },
    },
    matching: [
      {
        time: '2017-10-02T16:24:49Z',
        detail: { state: 'running', 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 },
      },
    ],
    notMatching: [
      {
        time: '2017-10-02T16:24:49Z',
        detail: { state: 'running', 'c-count': 5, 'd-count': 3, 'x-limit': 300 },
      },
    ],
  },
  {
    name: 'wildcard',
    page: OPERATORS_PAGE,
    pattern: { FileName: [{ wildcard: 'dir/*.png' }] },
    matching: [
      { FileName: 'dir/image.png' },
      { FileName: 'dir/sub/dir/image.png' },
      { FileName: 'dir/.png' },
    ],
    notMatching: [{ FileName: 'dir/image.jpg' }, { FileName: 'other/dir/image.png' }],
  },
  {
    name: '$or across fields',
    page: OPERATORS_PAGE,
    pattern: { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] },
    matching: [
      { Location: 'New York', Day: 'Sunday' },
      { Location: 'Boston', Day: 'Monday' },
    ],
    notMatching: [{ Location: 'Boston', Day: 'Sunday' }],
  },
  {
    name: '$or nested in detail',
    page: FILTERING_PAGE,
    pattern: {
      detail: {
        $or: [
          { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] },
          { 'd-count': [{ numeric: ['<', 10] }] },
          { 'x-limit': [{ numeric: ['=', 3.018e2] }] },
        ],
      },
    },
    matching: [{ detail: { 'c-count': 1 } }, { detail: { 'd-count': 9 } }, { detail: { 'x-limit': 301.8 } }],
    notMatching: [{ detail: { 'c-count': 6, 'd-count': 10, 'x-limit': 1 } }],
  },
];

describe('matchesEventPattern on the EventBridge user guide examples', () => {
  describe.each(documentedExamples)('$name ($page)', ({ pattern, matching, notMatching }) => {
    it.each(matching.map((event) => [JSON.stringify(event), event]))('matches %s', (_label, event) => {
      expect(matchesEventPattern(pattern, event)).toBe(true);
    });
    it.each(notMatching.map((event) => [JSON.stringify(event), event]))(
      'does not match %s',
      (_label, event) => {
        expect(matchesEventPattern(pattern, event)).toBe(false);
      },
    );
  });
});

describe('matching semantics not covered by a single documented example', () => {
  it('fields from different elements of an event array never combine into a match', () => {
    // event-ruler README, "JSON Array Matching".
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
      ],
    };
    expect(matchesEventPattern({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(matchesEventPattern({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(
      true,
    );
    expect(matchesEventPattern({ employees: { firstName: ['Anna'], lastName: ['Doe'] } }, event)).toBe(false);
  });

  it('anything-but matches an event array when any element is not excluded', () => {
    const pattern = { tags: [{ 'anything-but': 'internal' }] };
    expect(matchesEventPattern(pattern, { tags: ['internal', 'public'] })).toBe(true);
    expect(matchesEventPattern(pattern, { tags: ['internal'] })).toBe(false);
  });

  it('compares types strictly: strings, numbers and booleans never equal each other', () => {
    expect(matchesEventPattern({ a: [true] }, { a: 'true' })).toBe(false);
    expect(matchesEventPattern({ a: ['5'] }, { a: 5 })).toBe(false);
    expect(matchesEventPattern({ a: [5] }, { a: 5 })).toBe(true);
  });

  it('treats an escaped wildcard as a literal asterisk and an escaped backslash as a backslash', () => {
    const pattern = { name: [{ wildcard: 'report\\*-*.txt' }] };
    expect(matchesEventPattern(pattern, { name: 'report*-2024.txt' })).toBe(true);
    expect(matchesEventPattern(pattern, { name: 'report-2024.txt' })).toBe(false);
    const backslash = { name: [{ wildcard: 'C:\\\\*' }] };
    expect(matchesEventPattern(backslash, { name: 'C:\\Windows' })).toBe(true);
  });

  it('does not let an event field named like an Object.prototype member count as present', () => {
    expect(matchesEventPattern({ toString: [{ exists: true }] }, {})).toBe(false);
    expect(matchesEventPattern({ constructor: { name: ['Object'] } }, {})).toBe(false);
  });

  it('treats a non-array "$or" as an ordinary field name, as event-ruler does for compatibility', () => {
    const pattern = { $or: { metricType: ['MetricType'] } };
    expect(matchesEventPattern(pattern, { $or: { metricType: 'MetricType' } })).toBe(true);
    expect(matchesEventPattern(pattern, { metricType: 'MetricType' })).toBe(false);
  });

  it('compiles a pattern once for many events', () => {
    const isPng = compileEventPattern({ key: [{ suffix: '.png' }] });
    expect(['a.png', 'b.jpg', 'c.png'].filter((key) => isPng({ key }))).toEqual(['a.png', 'c.png']);
  });
});

describe("this app's S3 Object Created rule", () => {
  // The pattern exactly as CloudFormation receives it, synthesized by aws-cdk-lib.
  function synthesizedPattern(): unknown {
    const stack = new Stack(new App(), 'PatternStack');
    new events.Rule(stack, 'ObjectCreated', {
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: ['my-bucket'] }, object: { key: [{ prefix: 'incoming/' }] } },
      },
    });
    const rules = Template.fromStack(stack).findResources('AWS::Events::Rule');
    return Object.values(rules)[0].Properties.EventPattern;
  }

  /** Shaped like the "Object created" example in the S3 user guide (ev-events.html). */
  const objectCreated = (key: string, bucket = 'my-bucket') => ({
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2021-11-12T00:00:00Z',
    region: 'ca-central-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '617f08299329d189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  });

  const pattern = synthesizedPattern();

  it('is the pattern this app declares', () => {
    expect(pattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: ['my-bucket'] }, object: { key: [{ prefix: 'incoming/' }] } },
    });
  });

  it.each([
    'incoming/report.csv',
    'incoming/deep/nested/file.bin',
    'incoming/with space.txt',
    'incoming/with+plus.txt',
    'incoming/encoded%2Bplus.txt',
    'incoming/ünïcödé 日本語.txt',
    'incoming/',
  ])('matches key %s', (key) => {
    expect(matchesEventPattern(pattern, objectCreated(key))).toBe(true);
  });

  it.each(['processed/incoming/x', 'Incoming/x', 'incoming', 'x/incoming/'])(
    'does not match key %s',
    (key) => {
      expect(matchesEventPattern(pattern, objectCreated(key))).toBe(false);
    },
  );

  it('does not match another bucket or another event type', () => {
    expect(matchesEventPattern(pattern, objectCreated('incoming/a', 'other-bucket'))).toBe(false);
    expect(
      matchesEventPattern(pattern, { ...objectCreated('incoming/a'), 'detail-type': 'Object Deleted' }),
    ).toBe(false);
  });
});

describe('validateEventPattern', () => {
  const invalid: [string, unknown, string, RegExp][] = [
    [
      'a bare value instead of a list',
      { source: 'aws.s3' },
      'source',
      /expected an array of values.*\["aws\.s3"\]/,
    ],
    ['an empty list', { source: [] }, 'source', /empty arrays never match/],
    ['an unknown operator', { a: [{ regex: 'x.*' }] }, 'a[0]', /unknown operator "regex"; supported: prefix/],
    ['two operators in one object', { a: [{ prefix: 'a', suffix: 'b' }] }, 'a[0]', /exactly one key/],
    ['a nested list', { a: [['x']] }, 'a[0]', /expected a value or an operator object/],
    [
      'a non-string prefix',
      { a: [{ prefix: 5 }] },
      'a[0].prefix',
      /takes a string or \{"equals-ignore-case"/,
    ],
    ['a non-boolean exists', { a: [{ exists: 'yes' }] }, 'a[0].exists', /must be true or false/],
    [
      'a mixed anything-but list',
      { a: [{ 'anything-but': ['a', 1] }] },
      'a[0].anything-but',
      /only strings or only numbers/,
    ],
    [
      'anything-but with an unknown operator',
      { a: [{ 'anything-but': { numeric: ['>', 1] } }] },
      'a[0].anything-but',
      /takes a string/,
    ],
    [
      'a numeric operator typo',
      { a: [{ numeric: ['=>', 1] }] },
      'a[0].numeric[0]',
      /op one of =, <, <=, >, >=/,
    ],
    [
      'a numeric string bound',
      { a: [{ numeric: ['>', '1'] }] },
      'a[0].numeric[1]',
      /bound must be a JSON number/,
    ],
    [
      'an inverted numeric range',
      { a: [{ numeric: ['<', 5, '>', 0] }] },
      'a[0].numeric',
      /lower bound .* then a greater upper bound/,
    ],
    ['an empty numeric range', { a: [{ numeric: ['>', 5, '<', 5] }] }, 'a[0].numeric', /greater upper bound/],
    [
      'consecutive wildcards',
      { a: [{ wildcard: 'a**b' }] },
      'a[0].wildcard',
      /consecutive "\*" at position 2/,
    ],
    ['a backslash escaping a letter', { a: [{ wildcard: 'a\\b' }] }, 'a[0].wildcard', /may only escape/],
    ['a prefix length over 32', { a: [{ cidr: '10.0.0.0/33' }] }, 'a[0].cidr', /IPv4 or IPv6 block/],
    ['an octet over 255', { a: [{ cidr: '300.0.0.0/8' }] }, 'a[0].cidr', /IPv4 or IPv6 block/],
    ['a $or with one branch', { $or: [{ a: ['x'] }] }, '$or', /at least two pattern objects/],
    [
      'a leftover CloudFormation Ref',
      { detail: { bucket: { name: [{ Ref: 'Bucket83908E77' }] } } },
      'detail.bucket.name[0]',
      /resolveIntrinsics \(local\/cloudformation\/intrinsics\.ts\)/,
    ],
    ['a list at the top', [{ source: ['aws.s3'] }], '(root)', /expected an object of fields/],
    ['a JSON string', '{"source":["aws.s3"]}', '(root)', /JSON\.parse it first/],
  ];

  it.each(invalid)('rejects %s, naming the path', (_name, pattern, path, message) => {
    let error: unknown;
    try {
      validateEventPattern(pattern);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEventPatternError);
    expect((error as InvalidEventPatternError).path).toBe(path);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`at ${path}:`);
  });

  it('makes matchesEventPattern throw rather than silently not match', () => {
    expect(() => matchesEventPattern({ source: 'aws.s3' }, { source: 'aws.s3' })).toThrow(
      InvalidEventPatternError,
    );
  });

  it('accepts every documented example', () => {
    for (const { pattern } of documentedExamples) expect(() => validateEventPattern(pattern)).not.toThrow();
  });
});
