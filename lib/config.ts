/**
 * The app's whole configuration, declared once in CONFIG_TABLE: read once from CDK context
 * (cdk.json or `-c key=value`) in bin/, validated here, then passed down as props. Invalid
 * values fail `cdk synth` with one message per problem that names the key, the value and
 * the fix. README's configuration table is checked against CONFIG_TABLE by a test.
 */

import { closest } from 'fastest-levenshtein';

import { parseWorkerImage, privateNetworkImageProblem, type WorkerImage } from './worker-image';

/** Reports that a set value is unusable; returns undefined so a parser can `return fail(...)`. */
type Fail = (value: unknown, problem: string, fix: string) => undefined;

/** One configuration key. Its value type is what `parse` returns, so `PipelineConfig` follows the table. */
export interface ConfigKeySpec<T> {
  /** The value when the key is unset (or set to a value that was rejected). */
  readonly default: T;
  /** README's Default column when there is no default value to show, e.g. "the data bucket". */
  readonly unset?: string;
  /** README's Meaning column, word for word. */
  readonly doc: string;
  /**
   * Turns a set value (a string from `-c`, any JSON type from cdk.json; never undefined
   * or null) into the key's type, or calls `fail` once per problem and returns undefined.
   */
  readonly parse: (raw: unknown, fail: Fail, key: string) => T | undefined;
}

/** Declares a row; its type is what `parse` returns (a literal default must not widen it). */
function key<T>(spec: ConfigKeySpec<NoInfer<T>> & Pick<ConfigKeySpec<T>, 'parse'>): ConfigKeySpec<T> {
  return spec;
}

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

export const CONFIG_TABLE = {
  inputPrefix: key({
    default: 'incoming/',
    doc: 'Only objects created under this prefix start the pipeline. Must end with `/` (or be empty: the whole bucket, allowed only with an `outputBucket`).',
    parse: prefix({ allowEmpty: true }),
  }),
  outputBucket: key<string | undefined>({
    default: undefined,
    unset: 'the data bucket',
    doc: 'Existing bucket for results. The task role may write only under `outputPrefix` there.',
    parse: matching(
      /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      'is not a valid S3 bucket name',
      'use 3-63 lowercase letters, digits, dots and hyphens, or leave it unset to write into the data bucket',
    ),
  }),
  outputPrefix: key({
    default: 'processed/',
    doc: 'Results go to `outputPrefix + key + ".json"`. Refused if results would land under `inputPrefix` in the same bucket (an endless loop).',
    parse: prefix({ allowEmpty: false }),
  }),
  cpu: key({
    default: 256,
    doc: 'Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192, 16384.',
    parse: wholeNumberIn(Object.keys(FARGATE_MEMORY_MIB).map(Number), 'is not a Fargate CPU value'),
  }),
  memoryMiB: key({
    default: 512,
    doc: "Must be valid for `cpu` (Fargate's task size table; the error lists the valid range).",
    parse: wholeNumber, // checked against cpu in CROSS_KEY_CHECKS
  }),
  architecture: key({
    default: 'ARM64',
    doc: '`ARM64` (Graviton, ~20% cheaper) or `X86_64`.',
    parse: oneOf(['ARM64', 'X86_64']),
  }),
  taskTimeoutMinutes: key({
    default: 60,
    doc: "The task state's `TimeoutSeconds`; a longer run is stopped and the execution fails with `States.Timeout`. 1 to 10080.",
    parse: wholeNumberFrom1To(7 * 24 * 60, '7 days'),
  }),
  capacityWaitMinutes: key({
    default: 12 * 60,
    doc: 'How long an object may wait in line for a launch slot, and then (on average) for Fargate to accept its launch, before it fails; the default drains a 10,000-object burst on a default account (see Bursts and quotas). 1 to 10080.',
    parse: wholeNumberFrom1To(7 * 24 * 60, '7 days'),
  }),
  fargateVcpuQuota: key({
    default: 6,
    doc: "The Fargate vCPU this pipeline's tasks may use at once: the account's quota (On-Demand L-3032A538; Spot L-36FBB829 with a Spot `capacity`) less what other workloads use. Its share of `cpu` is the number of launch slots. 1 to 100000.",
    parse: wholeNumberFrom1To(100000, 'beyond any Fargate quota'),
  }),
  logRetentionDays: key({
    default: 30,
    doc: 'Retention of every log group (a CloudWatch Logs retention value).',
    parse: wholeNumberIn(LOG_RETENTION_DAYS, 'is not a CloudWatch Logs retention period'),
  }),
  removalPolicy: key({
    default: 'retain',
    doc: '`retain`: `cdk destroy` keeps buckets, queue and logs. `destroy`: they are deleted, and the buckets are emptied first.',
    parse: oneOf(['retain', 'destroy']),
  }),
  capacity: key({
    default: 'on-demand',
    doc: '`on-demand`, `spot` (Fargate Spot only), or `spot-with-fallback` (Spot first; on-demand when Spot has no capacity or interrupts the task).',
    parse: oneOf(['on-demand', 'spot', 'spot-with-fallback']),
  }),
  network: key({
    default: 'public',
    doc: '`public`: public subnets, tasks get a public IP, no NAT (zero idle cost). `private`: isolated subnets, no public IP, VPC endpoints for ECR and CloudWatch Logs (see Cost).',
    parse: oneOf(['public', 'private']),
  }),
  vpcId: key<string | undefined>({
    default: undefined,
    unset: 'unset',
    doc: 'Run tasks in this existing VPC (`-c vpcId=vpc-… -c subnetIds=subnet-…,subnet-…`). With `network=public` tasks get a public IP; with `private` the subnets must reach ECR, CloudWatch Logs and S3 (NAT or endpoints) themselves.',
    parse: matching(
      /^vpc-[0-9a-f]{8,17}$/,
      'is not a VPC id',
      'use the id of an existing VPC, e.g. vpc-0123456789abcdef0',
    ),
  }),
  subnetIds: key<readonly string[]>({
    default: [],
    unset: 'unset',
    doc: 'The subnets of `vpcId` the tasks run in: a comma-separated list with `-c`, or a JSON list in `cdk.json`.',
    parse: listOf(/^subnet-[0-9a-f]{8,17}$/, {
      example: 'subnet-0a1b,subnet-0c2d',
      problem: 'is not a subnet id',
      fix: 'use subnet ids such as subnet-0123456789abcdef0',
    }),
  }),
  kmsKeyArns: key<readonly string[]>({
    default: [],
    unset: 'unset',
    doc: 'Customer managed KMS keys (ARNs; a comma-separated list with `-c`) that uploads may name for SSE-KMS: the task role may decrypt with them, through S3 only. The bucket policy refuses an upload under any other customer managed key, which the worker could not read.',
    parse: listOf(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-)?[0-9a-f-]+$/, {
      example: 'arn:aws:kms:us-east-1:123456789012:key/…',
      problem: 'is not a KMS key ARN',
      fix: 'name each key by its ARN, arn:aws:kms:<region>:<account>:key/<key id> (not an alias or a bare key id)',
    }),
  }),
  encryption: key({
    default: 'aws-owned',
    doc: "`aws-owned`: each service encrypts at rest under its own AWS owned keys (no cost). `kms`: one customer managed KMS key, rotated yearly, for the data bucket, the log groups, the launch gate's table and the dead-letter queue (about $1 a month; see docs/control-tower.md).",
    parse: oneOf(['aws-owned', 'kms']),
  }),
  alarmEmail: key<string | undefined>({
    default: undefined,
    unset: 'unset',
    doc: 'Subscribes this address to the alarm topic (confirm the email AWS sends).',
    parse: matching(
      /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
      'is not an email address',
      'use an address such as ops@example.com, or leave it unset',
    ),
  }),
  backfillConcurrency: key({
    default: 10,
    doc: 'Most tasks a backfill runs at once (1 to 100; Fargate throttles RunTask beyond that).',
    // Fargate starts about 20 tasks per second per account; beyond ~100 concurrent launches RunTask throttles.
    parse: wholeNumberFrom1To(100, 'Fargate throttles RunTask beyond that'),
  }),
  objectRecordDays: key({
    default: 30,
    doc: 'How long an object record is kept after its last write (DynamoDB TTL). 1 to 3650.',
    parse: wholeNumberFrom1To(3650, '10 years'),
  }),
  tagInputObjects: key({
    default: false,
    doc: 'Tag each input object `processing-status=SUCCEEDED` or `FAILED` when it ends (the state machine tags, on the input prefix only; the task role never may).',
    parse: flag,
  }),
  image: key<WorkerImage | undefined>({
    default: undefined,
    unset: 'built from `container/`',
    doc: 'The worker image: a directory with a `Dockerfile` (relative to the project root), or an image reference pinned by a tag or digest: in ECR (the task may pull from that repository only) or any other registry (used as is). See "Your own image".',
    parse: (raw, fail, key) => {
      const value = text(raw, fail, key);
      if (!value) return undefined;
      // cdk runs the app in the project root, so relative directories are relative to it.
      const parsed = parseWorkerImage(value, process.cwd());
      return 'problem' in parsed ? fail(value, parsed.problem, parsed.fix) : parsed;
    },
  }),
};

export type ConfigKey = keyof typeof CONFIG_TABLE;
export type PipelineConfig = {
  readonly [K in ConfigKey]: (typeof CONFIG_TABLE)[K] extends ConfigKeySpec<infer T> ? T : never;
};
export type Architecture = PipelineConfig['architecture'];
export type RemovalPolicyChoice = PipelineConfig['removalPolicy'];
export type CapacityMode = PipelineConfig['capacity'];
export type NetworkMode = PipelineConfig['network'];
export type EncryptionMode = PipelineConfig['encryption'];

/** Every context key the app reads; anything else in context is CDK's own. */
export const CONFIG_KEYS = Object.keys(CONFIG_TABLE) as ConfigKey[];

export const DEFAULT_CONFIG = Object.fromEntries(
  CONFIG_KEYS.map((k) => [k, CONFIG_TABLE[k].default]),
) as unknown as PipelineConfig;

/**
 * A rule across keys. It runs only when none of its keys was rejected on its own, so one
 * mistake is reported once. `problem` returns the message, or undefined when the rule holds.
 */
interface CrossKeyCheck {
  readonly name: string;
  readonly keys: readonly ConfigKey[];
  readonly problem: (config: PipelineConfig) => string | undefined;
}

export const CROSS_KEY_CHECKS: readonly CrossKeyCheck[] = [
  {
    name: 'results never re-trigger the pipeline',
    keys: ['inputPrefix', 'outputPrefix', 'outputBucket'],
    problem: ({ inputPrefix, outputPrefix, outputBucket }) => {
      if (outputBucket !== undefined || !resultsRetrigger(inputPrefix, outputPrefix)) return;
      return inputPrefix === ''
        ? `inputPrefix "" watches the whole bucket and outputBucket is unset: results written under outputPrefix "${outputPrefix}" would re-trigger the pipeline; set inputPrefix to a folder such as "incoming/" or set outputBucket to another bucket`
        : `outputPrefix "${outputPrefix}" lies under inputPrefix "${inputPrefix}": results would re-trigger the pipeline; choose a prefix outside it (e.g. "processed/") or set outputBucket to another bucket`;
    },
  },
  {
    name: 'memoryMiB is a Fargate size for cpu',
    keys: ['cpu', 'memoryMiB'],
    problem: ({ cpu, memoryMiB }) => {
      const options = FARGATE_MEMORY_MIB[cpu];
      if (options.includes(memoryMiB)) return;
      const valid =
        options.length <= 3
          ? options.join(', ')
          : `${options[0]} to ${options[options.length - 1]} in steps of ${options[1] - options[0]}`;
      return describe('memoryMiB', memoryMiB, `is not valid with cpu ${cpu}`, `use ${valid}`);
    },
  },
  {
    name: 'fargateVcpuQuota holds one task',
    keys: ['fargateVcpuQuota', 'cpu'],
    problem: ({ fargateVcpuQuota, cpu }) =>
      launchSlots(fargateVcpuQuota, cpu) >= 1
        ? undefined
        : describe(
            'fargateVcpuQuota',
            fargateVcpuQuota,
            `is less than one task of cpu ${cpu} (${cpu / 1024} vCPU)`,
            `raise it to at least ${Math.ceil(cpu / 1024)} (request a quota increase first), or lower cpu`,
          ),
  },
  {
    name: 'vpcId needs subnetIds',
    keys: ['vpcId', 'subnetIds'],
    problem: ({ vpcId, subnetIds }) =>
      vpcId !== undefined && subnetIds.length === 0
        ? describe(
            'vpcId',
            vpcId,
            'is set without subnetIds',
            'also set -c subnetIds=subnet-...,subnet-... (the subnets the tasks run in)',
          )
        : undefined,
  },
  {
    name: 'an isolated network pulls images from ECR only',
    keys: ['image', 'network', 'vpcId'],
    // An existing VPC's subnets may reach the internet through NAT; the stack's isolated ones cannot.
    problem: ({ image, network, vpcId }) => {
      if (image?.kind !== 'registry' || network !== 'private' || vpcId !== undefined) return undefined;
      const problem = privateNetworkImageProblem(image);
      return problem && describe('image', image.reference, problem.problem, problem.fix);
    },
  },
  {
    name: 'subnetIds need vpcId',
    keys: ['vpcId', 'subnetIds'],
    problem: ({ vpcId, subnetIds }) =>
      vpcId === undefined && subnetIds.length > 0
        ? describe(
            'subnetIds',
            subnetIds.join(','),
            'is set without vpcId',
            'also set -c vpcId=vpc-... (the VPC those subnets belong to), or unset subnetIds',
          )
        : undefined,
  },
];

/** How many tasks of `cpu` units fit in `vcpuQuota` vCPU at once: the launch gate's slots. */
export function launchSlots(vcpuQuota: number, cpu: number): number {
  return Math.floor((vcpuQuota * 1024) / cpu);
}

/**
 * Whether results written to the input bucket would start the pipeline again. A result key
 * is outputPrefix + key + ".json"; it re-triggers the rule when it starts with inputPrefix,
 * which for any key under inputPrefix happens exactly when outputPrefix + inputPrefix does
 * (this also covers an empty inputPrefix).
 */
export function resultsRetrigger(inputPrefix: string, outputPrefix: string): boolean {
  return (outputPrefix + inputPrefix).startsWith(inputPrefix);
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration (cdk.json context or -c key=value):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Context keys that are CDK's own, not this app's: feature flags (`@aws-cdk/core:…`), the CLI's
 * settings (`aws:cdk:…`, `cli-telemetry`), lookups cached in cdk.context.json
 * (`availability-zones:account=…`, `acknowledged-issue-numbers`).
 */
function isCdkContextKey(key: string): boolean {
  return (
    key.startsWith('@') || key.includes(':') || ['cli-telemetry', 'acknowledged-issue-numbers'].includes(key)
  );
}

/** A misspelt key would otherwise be ignored in silence, its default used in its place. */
function unknownKeyProblems(contextKeys: readonly string[]): string[] {
  return contextKeys
    .filter((key) => !(CONFIG_KEYS as readonly string[]).includes(key) && !isCdkContextKey(key))
    .map(
      (key) =>
        `${key} is not a configuration key: did you mean ${closestKey(key)}? (every key is in README "Configuration")`,
    );
}

/** A key cut short (`capacityWait`) means the key it begins; otherwise the fewest edits, case aside. */
function closestKey(key: string): string {
  const lower = key.toLowerCase();
  const begun = CONFIG_KEYS.find((known) => known.toLowerCase().startsWith(lower));
  if (begun) return begun;
  const known = CONFIG_KEYS.map((k) => k.toLowerCase());
  return CONFIG_KEYS[known.indexOf(closest(lower, known))];
}

/**
 * Parses raw context values (strings from `-c`, typed values from cdk.json) into a
 * validated config. Throws one ConfigError listing every problem found.
 * @param contextKeys - every key of the context, to refuse those that are neither this app's nor CDK's
 */
export function parseConfig(
  read: (key: ConfigKey) => unknown,
  contextKeys: readonly string[] = [],
): PipelineConfig {
  const problems: string[] = unknownKeyProblems(contextKeys);
  const rejected = new Set<ConfigKey>();
  const config: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const spec: ConfigKeySpec<unknown> = CONFIG_TABLE[k];
    const raw = read(k);
    const fail: Fail = (value, problem, fix) => {
      rejected.add(k);
      problems.push(describe(k, value, problem, fix));
      return undefined;
    };
    const value = raw === undefined || raw === null ? undefined : spec.parse(raw, fail, k);
    config[k] = value ?? spec.default;
  }
  for (const check of CROSS_KEY_CHECKS.filter((c) => !c.keys.some((k) => rejected.has(k)))) {
    const problem = check.problem(config as PipelineConfig);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as PipelineConfig;
}

/** `key value problem: fix`, the shape of every per-key message. */
export function describe(key: string, value: unknown, problem: string, fix: string): string {
  return `${key} ${JSON.stringify(value)} ${problem}: ${fix}`;
}

// ---------------------------------------------------------------------------------------------
// Parsers, one per kind of key

function text(raw: unknown, fail: Fail, key: string): string | undefined {
  return typeof raw === 'string' ? raw : fail(raw, 'is not a string', `set ${key} to a string`);
}

/** An optional string of a fixed shape; "" means unset. */
function matching(pattern: RegExp, problem: string, fix: string): ConfigKeySpec<string | undefined>['parse'] {
  return (raw, fail, key) => {
    const value = text(raw, fail, key);
    if (!value) return undefined;
    return pattern.test(value) ? value : fail(value, problem, fix);
  };
}

/** A folder-like S3 key prefix: no leading "/", a trailing "/". */
function prefix({ allowEmpty }: { allowEmpty: boolean }): ConfigKeySpec<string>['parse'] {
  return (raw, fail, key) => {
    const value = text(raw, fail, key);
    if (value === undefined) return undefined;
    if (value === '') {
      return allowEmpty
        ? value
        : fail(value, 'is empty', `set ${key} to a folder-like prefix such as "processed/"`);
    }
    if (value.startsWith('/')) {
      return fail(
        value,
        'starts with "/"',
        `S3 keys have no leading slash; use "${value.replace(/^\/+/, '')}"`,
      );
    }
    if (!value.endsWith('/')) {
      return fail(
        value,
        'does not end with "/"',
        `use "${value}/" so that it matches a folder, not every key starting with "${value}"`,
      );
    }
    return value;
  };
}

function oneOf<const T extends string>(allowed: readonly T[]): ConfigKeySpec<T>['parse'] {
  return (raw, fail, key) => {
    const value = text(raw, fail, key);
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      return fail(value, 'is not allowed', `use one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return value as T;
  };
}

/** true or false, from a boolean (cdk.json) or its word (`-c`). */
function flag(raw: unknown, fail: Fail, key: string): boolean | undefined {
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  return fail(raw, 'is not true or false', `set ${key} to true or false, e.g. -c ${key}=true`);
}

/** A whole number, from a number (cdk.json) or its digits (`-c`). */
function wholeNumber(raw: unknown, fail: Fail, key: string): number | undefined {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n === 'number' && Number.isInteger(n)) return n;
  const example = CONFIG_TABLE[key as ConfigKey].default ?? 1;
  return fail(raw, 'is not a whole number', `set ${key} to a whole number, e.g. -c ${key}=${example}`);
}

/** A whole number from 1 to `max`; `why` explains the upper bound in the error. */
function wholeNumberFrom1To(max: number, why: string): ConfigKeySpec<number>['parse'] {
  return (raw, fail, key) => {
    const value = wholeNumber(raw, fail, key);
    if (value === undefined) return undefined;
    return value >= 1 && value <= max ? value : fail(value, 'is out of range', `use 1 to ${max} (${why})`);
  };
}

function wholeNumberIn(allowed: readonly number[], problem: string): ConfigKeySpec<number>['parse'] {
  return (raw, fail, key) => {
    const value = wholeNumber(raw, fail, key);
    if (value === undefined) return undefined;
    return allowed.includes(value) ? value : fail(value, problem, `use one of ${allowed.join(', ')}`);
  };
}

/**
 * A list of ids of one shape: a JSON list in cdk.json, a comma-separated string from `-c`
 * (`example` is such a string). Each item that does not match is reported on its own.
 */
function listOf(
  pattern: RegExp,
  { example, problem, fix }: { example: string; problem: string; fix: string },
): ConfigKeySpec<readonly string[]>['parse'] {
  return (raw, fail, key) => {
    const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
    if (!items) return fail(raw, 'is not a list', `use a comma-separated string, e.g. -c ${key}=${example}`);
    const values = items.map((s) => String(s).trim()).filter((s) => s !== '');
    const invalid = values.filter((value) => !pattern.test(value));
    for (const value of invalid) fail(value, problem, fix);
    return invalid.length > 0 ? undefined : values;
  };
}

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}
