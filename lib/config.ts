/**
 * The app's whole configuration: read once from CDK context (cdk.json or `-c key=value`)
 * in bin/, validated here, then passed down as props. Invalid values fail `cdk synth`
 * with one message per problem that names the key, the value and the fix.
 */

export type Architecture = 'ARM64' | 'X86_64';
export type RemovalPolicyChoice = 'retain' | 'destroy';
export type CapacityMode = 'on-demand' | 'spot' | 'spot-with-fallback';
export type NetworkMode = 'public' | 'private';

export interface PipelineConfig {
  /** Key prefix that triggers processing. */
  readonly inputPrefix: string;
  /** Bucket that receives results; undefined means the data bucket itself. */
  readonly outputBucket?: string;
  /** Key prefix of results: `outputPrefix + key + ".json"`. */
  readonly outputPrefix: string;
  /** Fargate task CPU units. */
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly architecture: Architecture;
  /** Upper bound of one task run; the state fails with States.Timeout past it. */
  readonly taskTimeoutMinutes: number;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicyChoice;
  readonly capacity: CapacityMode;
  readonly network: NetworkMode;
  /** Existing VPC to run tasks in, with the subnets to use. */
  readonly existingVpc?: { readonly vpcId: string; readonly subnetIds: readonly string[] };
  readonly alarmEmail?: string;
  /** Maximum concurrent tasks of a backfill run. */
  readonly backfillConcurrency: number;
}

export const DEFAULT_CONFIG: PipelineConfig = {
  inputPrefix: 'incoming/',
  outputPrefix: 'processed/',
  cpu: 256,
  memoryMiB: 512,
  architecture: 'ARM64',
  taskTimeoutMinutes: 60,
  logRetentionDays: 30,
  removalPolicy: 'retain',
  capacity: 'on-demand',
  network: 'public',
  backfillConcurrency: 10,
};

/** Every context key the app reads; anything else in context is CDK's own. */
export const CONFIG_KEYS = [
  'inputPrefix',
  'outputBucket',
  'outputPrefix',
  'cpu',
  'memoryMiB',
  'architecture',
  'taskTimeoutMinutes',
  'logRetentionDays',
  'removalPolicy',
  'capacity',
  'network',
  'vpcId',
  'subnetIds',
  'alarmEmail',
  'backfillConcurrency',
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Valid Fargate memory sizes (MiB) per CPU value, from the ECS task size table. */
const FARGATE_MEMORY_MIB: Record<number, readonly number[]> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const MAX_TASK_TIMEOUT_MINUTES = 7 * 24 * 60;
/** Fargate starts about 20 tasks per second per account; beyond ~100 concurrent launches RunTask throttles. */
const MAX_BACKFILL_CONCURRENCY = 100;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration (cdk.json context or -c key=value):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses raw context values (strings from `-c`, typed values from cdk.json) into a
 * validated config. Throws one ConfigError listing every problem found.
 */
export function parseConfig(read: (key: ConfigKey) => unknown): PipelineConfig {
  const problems: string[] = [];
  const fail = (key: ConfigKey, value: unknown, problem: string, fix: string): undefined => {
    problems.push(`${key} ${JSON.stringify(value)} ${problem}: ${fix}`);
    return undefined;
  };

  const str = (key: ConfigKey): string | undefined => {
    const value = read(key);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') return fail(key, value, 'is not a string', `set ${key} to a string`);
    return value;
  };
  const int = (key: ConfigKey): number | undefined => {
    const value = read(key);
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      return fail(
        key,
        value,
        'is not a whole number',
        `set ${key} to a whole number, e.g. -c ${key}=${DEFAULT_CONFIG[key as keyof PipelineConfig] ?? 1}`,
      );
    }
    return n;
  };
  /** A whole number from 1 to `max`, or the default; `why` explains the upper bound in the error. */
  const from1To = (key: 'taskTimeoutMinutes' | 'backfillConcurrency', max: number, why: string): number => {
    const value = int(key) ?? DEFAULT_CONFIG[key];
    if (value < 1 || value > max) fail(key, value, 'is out of range', `use 1 to ${max} (${why})`);
    return value;
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[]): T | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      return fail(key, value, 'is not allowed', `use one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return value as T;
  };
  const prefix = (key: 'inputPrefix' | 'outputPrefix', allowEmpty: boolean): string | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    if (value === '') {
      return allowEmpty
        ? value
        : fail(key, value, 'is empty', `set ${key} to a folder-like prefix such as "processed/"`);
    }
    if (value.startsWith('/')) {
      return fail(
        key,
        value,
        'starts with "/"',
        `S3 keys have no leading slash; use "${value.replace(/^\/+/, '')}"`,
      );
    }
    if (!value.endsWith('/')) {
      return fail(
        key,
        value,
        'does not end with "/"',
        `use "${value}/" so that it matches a folder, not every key starting with "${value}"`,
      );
    }
    return value;
  };

  const inputPrefix = prefix('inputPrefix', true) ?? DEFAULT_CONFIG.inputPrefix;
  const outputPrefix = prefix('outputPrefix', false) ?? DEFAULT_CONFIG.outputPrefix;
  const outputBucket = str('outputBucket') || undefined;
  if (
    outputBucket !== undefined &&
    !/^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(outputBucket)
  ) {
    fail(
      'outputBucket',
      outputBucket,
      'is not a valid S3 bucket name',
      'use 3-63 lowercase letters, digits, dots and hyphens, or leave it unset to write into the data bucket',
    );
  }
  // A result key is outputPrefix + key + ".json"; it re-triggers the rule when it starts
  // with inputPrefix, which for any key under inputPrefix happens exactly when
  // outputPrefix + inputPrefix does (this also covers an empty inputPrefix).
  if (outputBucket === undefined && (outputPrefix + inputPrefix).startsWith(inputPrefix)) {
    problems.push(
      inputPrefix === ''
        ? `inputPrefix "" watches the whole bucket and outputBucket is unset: results written under outputPrefix "${outputPrefix}" would re-trigger the pipeline; set inputPrefix to a folder such as "incoming/" or set outputBucket to another bucket`
        : `outputPrefix "${outputPrefix}" lies under inputPrefix "${inputPrefix}": results would re-trigger the pipeline; choose a prefix outside it (e.g. "processed/") or set outputBucket to another bucket`,
    );
  }

  const architecture =
    oneOf<Architecture>('architecture', ['ARM64', 'X86_64']) ?? DEFAULT_CONFIG.architecture;
  const cpu = int('cpu') ?? DEFAULT_CONFIG.cpu;
  const cpuValid = cpu in FARGATE_MEMORY_MIB;
  if (!cpuValid) {
    fail(
      'cpu',
      cpu,
      'is not a Fargate CPU value',
      `use one of ${Object.keys(FARGATE_MEMORY_MIB).join(', ')}`,
    );
  }
  const memoryMiB = int('memoryMiB') ?? DEFAULT_CONFIG.memoryMiB;
  if (cpuValid && !FARGATE_MEMORY_MIB[cpu].includes(memoryMiB)) {
    const options = FARGATE_MEMORY_MIB[cpu];
    fail(
      'memoryMiB',
      memoryMiB,
      `is not valid with cpu ${cpu}`,
      `use ${options.length <= 3 ? options.join(', ') : `${options[0]} to ${options[options.length - 1]} in steps of ${options[1] - options[0]}`}`,
    );
  }

  const taskTimeoutMinutes = from1To('taskTimeoutMinutes', MAX_TASK_TIMEOUT_MINUTES, '7 days');
  const logRetentionDays = int('logRetentionDays') ?? DEFAULT_CONFIG.logRetentionDays;
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    fail(
      'logRetentionDays',
      logRetentionDays,
      'is not a CloudWatch Logs retention period',
      `use one of ${LOG_RETENTION_DAYS.join(', ')}`,
    );
  }
  const removalPolicy =
    oneOf<RemovalPolicyChoice>('removalPolicy', ['retain', 'destroy']) ?? DEFAULT_CONFIG.removalPolicy;
  const capacity =
    oneOf<CapacityMode>('capacity', ['on-demand', 'spot', 'spot-with-fallback']) ?? DEFAULT_CONFIG.capacity;
  const network = oneOf<NetworkMode>('network', ['public', 'private']) ?? DEFAULT_CONFIG.network;

  const vpcId = str('vpcId') || undefined;
  const subnetIdsRaw = read('subnetIds');
  let subnetIdList: unknown[] = [];
  if (Array.isArray(subnetIdsRaw)) subnetIdList = subnetIdsRaw;
  else if (typeof subnetIdsRaw === 'string') subnetIdList = subnetIdsRaw.split(',');
  else if (subnetIdsRaw !== undefined && subnetIdsRaw !== null) {
    fail(
      'subnetIds',
      subnetIdsRaw,
      'is not a list',
      'use a comma-separated string, e.g. -c subnetIds=subnet-0a1b,subnet-0c2d',
    );
  }
  const subnetIds = subnetIdList.map((s) => String(s).trim()).filter((s) => s !== '');
  if (vpcId !== undefined && !/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) {
    fail('vpcId', vpcId, 'is not a VPC id', 'use the id of an existing VPC, e.g. vpc-0123456789abcdef0');
  }
  for (const id of subnetIds.filter((s) => !/^subnet-[0-9a-f]{8,17}$/.test(s))) {
    fail('subnetIds', id, 'is not a subnet id', 'use subnet ids such as subnet-0123456789abcdef0');
  }
  if (vpcId !== undefined && subnetIds.length === 0) {
    fail(
      'vpcId',
      vpcId,
      'is set without subnetIds',
      'also set -c subnetIds=subnet-...,subnet-... (the subnets the tasks run in)',
    );
  }
  if (vpcId === undefined && subnetIds.length > 0) {
    fail(
      'subnetIds',
      subnetIds.join(','),
      'is set without vpcId',
      'also set -c vpcId=vpc-... (the VPC those subnets belong to), or unset subnetIds',
    );
  }

  const alarmEmail = str('alarmEmail') || undefined;
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    fail(
      'alarmEmail',
      alarmEmail,
      'is not an email address',
      'use an address such as ops@example.com, or leave it unset',
    );
  }
  const backfillConcurrency = from1To(
    'backfillConcurrency',
    MAX_BACKFILL_CONCURRENCY,
    'Fargate throttles RunTask beyond that',
  );

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    inputPrefix,
    outputBucket,
    outputPrefix,
    cpu,
    memoryMiB,
    architecture,
    taskTimeoutMinutes,
    logRetentionDays,
    removalPolicy,
    capacity,
    network,
    existingVpc: vpcId ? { vpcId, subnetIds } : undefined,
    alarmEmail,
    backfillConcurrency,
  };
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}
