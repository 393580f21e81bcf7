import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  CONFIG_KEYS,
  CONFIG_TABLE,
  ConfigError,
  ConfigKey,
  DEFAULT_CONFIG,
  parseConfig,
} from '../../lib/config';
import { cdkApp } from '../support/project-commands';

/** Context as cdk.json and `-c key=value` would provide it. */
function parse(context: Partial<Record<ConfigKey, unknown>>) {
  return parseConfig((key) => context[key]);
}

/** The ConfigError that `context` raises (fails if it parses). */
function problemsOf(context: Partial<Record<ConfigKey, unknown>>): readonly string[] {
  try {
    parse(context);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(context)} to be rejected`);
}

describe('parseConfig', () => {
  test('no context at all yields the documented defaults', () => {
    // GIVEN no context WHEN parsed THEN every default applies
    expect(parse({})).toEqual({ ...DEFAULT_CONFIG, outputBucket: undefined, vpcId: undefined });
    expect(parse({})).toMatchObject({ inputPrefix: 'incoming/', outputPrefix: 'processed/', cpu: 256 });
  });

  // Each row: the context, then fragments the one reported problem must contain:
  // the key, the bad value (as JSON) and the fix.
  test.each<[string, Partial<Record<ConfigKey, unknown>>, string[]]>([
    ['cpu 300', { cpu: 300 }, ['cpu', '300', 'is not a Fargate CPU value', 'use one of 256, 512, 1024']],
    [
      'memory 4096 with cpu 256',
      { cpu: 256, memoryMiB: 4096 },
      ['memoryMiB', '4096', 'with cpu 256', 'use 512, 1024, 2048'],
    ],
    ['architecture arm', { architecture: 'arm' }, ['architecture', '"arm"', 'use one of "ARM64", "X86_64"']],
    ['taskTimeoutMinutes 0', { taskTimeoutMinutes: 0 }, ['taskTimeoutMinutes', '0', 'use 1 to 10080']],
    [
      'fargateVcpuQuota 0',
      { fargateVcpuQuota: 0 },
      ['fargateVcpuQuota', '0', 'is out of range', 'use 1 to 100000'],
    ],
    [
      'fargateVcpuQuota 1 with cpu 2048',
      { fargateVcpuQuota: 1, cpu: 2048, memoryMiB: 4096 },
      ['fargateVcpuQuota', '1', 'less than one task of cpu 2048 (2 vCPU)', 'raise it to at least 2'],
    ],
    [
      'taskTimeoutMinutes abc',
      { taskTimeoutMinutes: 'abc' },
      ['taskTimeoutMinutes', '"abc"', 'is not a whole number', '-c taskTimeoutMinutes=60'],
    ],
    [
      'logRetentionDays 10',
      { logRetentionDays: 10 },
      [
        'logRetentionDays',
        '10',
        'is not a CloudWatch Logs retention period',
        'use one of 1, 3, 5, 7, 14, 30',
      ],
    ],
    [
      'removalPolicy delete',
      { removalPolicy: 'delete' },
      ['removalPolicy', '"delete"', 'use one of "retain", "destroy"'],
    ],
    [
      'inputPrefix without trailing slash',
      { inputPrefix: 'incoming' },
      ['inputPrefix', '"incoming"', 'does not end with "/"', 'use "incoming/"'],
    ],
    [
      'inputPrefix with leading slash',
      { inputPrefix: '/incoming/' },
      ['inputPrefix', '"/incoming/"', 'starts with "/"', 'use "incoming/"'],
    ],
    ['empty outputPrefix', { outputPrefix: '' }, ['outputPrefix', '""', 'is empty', 'such as "processed/"']],
    [
      'outputPrefix under inputPrefix in the same bucket',
      { outputPrefix: 'incoming/out/' },
      ['outputPrefix "incoming/out/"', 'inputPrefix "incoming/"', 're-trigger', 'set outputBucket'],
    ],
    [
      'empty inputPrefix with no outputBucket',
      { inputPrefix: '' },
      ['inputPrefix ""', 'whole bucket', 're-trigger', 'such as "incoming/"', 'set outputBucket'],
    ],
    [
      'inputPrefix a/a/ with outputPrefix a/ (results land in a/a/a/...)',
      { inputPrefix: 'a/a/', outputPrefix: 'a/' },
      ['outputPrefix "a/"', 'inputPrefix "a/a/"', 're-trigger', 'set outputBucket'],
    ],
    [
      'outputBucket with an invalid name',
      { outputBucket: 'My_Bucket' },
      ['outputBucket', '"My_Bucket"', 'is not a valid S3 bucket name', 'lowercase'],
    ],
    [
      'capacity cheap',
      { capacity: 'cheap' },
      ['capacity', '"cheap"', 'use one of "on-demand", "spot", "spot-with-fallback"'],
    ],
    ['network vpn', { network: 'vpn' }, ['network', '"vpn"', 'use one of "public", "private"']],
    [
      'vpcId without subnetIds',
      { vpcId: 'vpc-0123456789abcdef0' },
      ['vpcId', '"vpc-0123456789abcdef0"', 'without subnetIds', '-c subnetIds='],
    ],
    [
      'subnetIds without vpcId',
      { subnetIds: 'subnet-0123456789abcdef0' },
      ['subnetIds', '"subnet-0123456789abcdef0"', 'without vpcId', '-c vpcId='],
    ],
    [
      'kmsKeyArns naming an alias',
      { kmsKeyArns: 'alias/my-key' },
      ['kmsKeyArns', '"alias/my-key"', 'is not a KMS key ARN', 'arn:aws:kms:<region>:<account>:key/<key id>'],
    ],
    [
      'bad alarmEmail',
      { alarmEmail: 'ops-at-example' },
      ['alarmEmail', '"ops-at-example"', 'is not an email address', 'ops@example.com'],
    ],
    ['backfillConcurrency 0', { backfillConcurrency: 0 }, ['backfillConcurrency', '0', 'use 1 to 100']],
    [
      'backfillConcurrency 1000',
      { backfillConcurrency: 1000 },
      ['backfillConcurrency', '1000', 'use 1 to 100'],
    ],
  ])('rejects %s with a message naming the key, the value and the fix', (_name, context, fragments) => {
    // GIVEN one invalid value WHEN parsed
    const problems = problemsOf(context);
    // THEN exactly one problem is reported, and it carries every fragment
    expect(problems).toHaveLength(1);
    for (const fragment of fragments) expect(problems[0]).toContain(fragment);
  });

  test('the error message lists the problems and says where configuration comes from', () => {
    // GIVEN an invalid cpu WHEN parsed THEN the Error's message is what `cdk synth` prints
    expect(() => parse({ cpu: 300 })).toThrow(
      /^Invalid configuration \(cdk\.json context or -c key=value\):\n {2}- cpu 300 is not a Fargate CPU value/,
    );
  });

  test('string values from -c parse into numbers', () => {
    // GIVEN context values as the CLI passes them: strings
    const config = parse({ cpu: '512', memoryMiB: '1024', taskTimeoutMinutes: '5', logRetentionDays: '7' });
    // THEN they become numbers
    expect(config).toMatchObject({ cpu: 512, memoryMiB: 1024, taskTimeoutMinutes: 5, logRetentionDays: 7 });
  });

  test('subnetIds from -c is a comma-separated list', () => {
    // GIVEN -c vpcId=... -c subnetIds=a,b
    const config = parse({
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-0123456789abcdef0, subnet-0123456789abcdef1',
    });
    // THEN both subnets are used
    expect({ vpcId: config.vpcId, subnetIds: config.subnetIds }).toEqual({
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    });
  });

  test('an outputPrefix under inputPrefix is accepted when results go to another bucket', () => {
    // GIVEN results in another bucket WHEN parsed THEN they cannot re-trigger the rule
    const config = parse({ outputPrefix: 'incoming/out/', outputBucket: 'results-bucket' });
    expect(config).toMatchObject({
      inputPrefix: 'incoming/',
      outputPrefix: 'incoming/out/',
      outputBucket: 'results-bucket',
    });
  });

  test('an empty inputPrefix is accepted when results go to another bucket', () => {
    expect(parse({ inputPrefix: '', outputBucket: 'results-bucket' }).inputPrefix).toBe('');
  });

  test('several problems are reported together', () => {
    // GIVEN three independent mistakes WHEN parsed THEN one error lists all three
    const problems = problemsOf({ cpu: 300, capacity: 'cheap', logRetentionDays: 10 });
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('cpu 300'),
        expect.stringContaining('capacity "cheap"'),
        expect.stringContaining('logRetentionDays 10'),
      ]),
    );
  });
});

describe('unknown context keys', () => {
  test("a key that is neither this app's nor CDK's is refused, naming the closest key", () => {
    // GIVEN `-c cpuu=512`, `-c capacityWait=60` and `-c memorymib=1024` WHEN parsed with the context's keys
    const keys = ['cpuu', 'capacityWait', 'memorymib'];
    expect(() => parseConfig(() => undefined, keys)).toThrow(
      new ConfigError([
        'cpuu is not a configuration key: did you mean cpu? (every key is in README "Configuration")',
        'capacityWait is not a configuration key: did you mean capacityWaitMinutes? (every key is in README "Configuration")',
        'memorymib is not a configuration key: did you mean memoryMiB? (every key is in README "Configuration")',
      ]),
    );
  });

  test("CDK's own keys pass: feature flags, the CLI's settings, cached lookups", () => {
    const keys = [
      '@aws-cdk/core:target-partitions',
      '@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver',
      'aws:cdk:version-reporting',
      'cli-telemetry',
      'acknowledged-issue-numbers',
      'availability-zones:account=123456789012:region=eu-west-1',
      'inputPrefix',
    ];
    expect(parseConfig((key) => (key === 'inputPrefix' ? 'in/' : undefined), keys)).toMatchObject({
      inputPrefix: 'in/',
    });
  });
});

describe('cross-key checks', () => {
  test('a key rejected on its own is not reported again by a check that reads it', () => {
    // GIVEN an invalid cpu and a memory size that only an invalid cpu could make wrong
    // WHEN parsed THEN only the cpu is reported
    const problems = problemsOf({ cpu: 300, memoryMiB: 4096 });
    expect(problems).toEqual([expect.stringContaining('cpu 300 is not a Fargate CPU value')]);
  });

  test('subnet ids from cdk.json may be a JSON list', () => {
    const config = parse({ vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] });
    expect(config.subnetIds).toEqual(['subnet-0123456789abcdef0']);
  });
});

describe('README "Configuration"', () => {
  /**
   * The entries of the README list under "## Configuration", as written: one item per key,
   * "- `key` (default: …): meaning", wrapped onto indented lines (README keeps lines to 120 characters).
   */
  function readmeRows(): { key: string; default: string; doc: string }[] {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Configuration\n'));
    if (!section) throw new Error('README.md has no "## Configuration" section');
    const items = section
      .split(/^- /m)
      .slice(1)
      .map((item) => item.split(/\n(?! {2})/)[0].replace(/\n {2}/g, ' '));
    return items.map((item) => {
      const match = /^`(\w+)` \(default: (.*?)\): (.*)$/s.exec(item);
      if (!match)
        throw new Error(`README "Configuration" item is not "- \`key\` (default: …): meaning": ${item}`);
      return { key: match[1], default: match[2], doc: match[3] };
    });
  }

  test('lists every key of CONFIG_TABLE, in order, with its default and meaning', () => {
    // GIVEN the table in lib/config.ts, rendered the way README shows it
    const expected = CONFIG_KEYS.map((key) => {
      const spec = CONFIG_TABLE[key];
      return { key, default: spec.unset ?? `\`${String(spec.default)}\``, doc: spec.doc };
    });
    // THEN README's table says the same, row by row
    expect(readmeRows()).toEqual(expected);
  });

  test('cdk.json holds no configuration key, so the defaults live only in CONFIG_TABLE', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const context = require('../../cdk.json').context as Record<string, unknown>;
    expect(Object.keys(context).filter((k) => (CONFIG_KEYS as string[]).includes(k))).toEqual([]);
  });
});

describe('bin/app.ts with an invalid configuration', () => {
  test('exits non-zero with the message on stderr and no stack trace, as `cdk synth` shows it', () => {
    // GIVEN the context the CDK CLI would pass for `-c cpu=300`
    const root = path.join(__dirname, '..', '..');
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
    try {
      // WHEN the app entry runs the way cdk.json's "app" command runs it
      const result = spawnSync(...cdkApp(), {
        cwd: root,
        env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ cpu: 300 }), CDK_OUTDIR: outdir },
        encoding: 'utf8',
        timeout: 45_000,
      });
      // THEN it fails with exit 2 and only the message: the key, the value and the fix
      expect(result.error).toBeUndefined();
      expect({ status: result.status, stderr: result.stderr }).toEqual({
        status: 2,
        stderr:
          'Invalid configuration (cdk.json context or -c key=value):\n' +
          '  - cpu 300 is not a Fargate CPU value: use one of 256, 512, 1024, 2048, 4096, 8192, 16384\n',
      });
      // AND nothing was synthesized
      expect(fs.readdirSync(outdir)).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
