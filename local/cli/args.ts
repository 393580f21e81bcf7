import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { UsageError } from '../../shared/commands/command';
import { parseSince } from '../../shared/commands/execution-history';
import { LOCAL_CLOCK_SPEED, MAX_CLOCK_SPEED } from '../clock';
import { DEFAULT_VCPU_QUOTA } from '../ecs/fargate-quotas';
import { LAUNCH_ERROR_KINDS, type LaunchErrorKind } from '../ecs/launch-faults';
import { type GateFault, GateFaultError, parseGateFault } from '../faults/gate-faults';
import type { FaultOptions } from '../pipeline';

export const DEFAULT_PORT = 4566;
export const DEFAULT_DATA_DIR = '.local';

/** What a run writes under its data directory: everything, so `--data-dir X` writes nothing outside X. */
export function dataLayout(dataDir: string) {
  return {
    s3: join(dataDir, 's3'),
    deadLetters: join(dataDir, 'dead-letters'),
    executions: join(dataDir, 'executions'),
    dynamodb: join(dataDir, 'dynamodb'),
    cdkOut: join(dataDir, 'cdk.out'),
  };
}

export interface CliOptions {
  /** Files and directories to upload; none means "watch until Ctrl-C" (unless backfill or replay). */
  readonly paths: readonly string[];
  /** `--backfill [sub-prefix]`: process the objects already in the bucket, then exit. */
  readonly backfill?: { readonly subPrefix?: string };
  /** `--replay-dead-letters`: start an execution per dead-lettered event, then exit. */
  readonly replayDeadLetters: boolean;
  /** `--failures`: list the failed executions of the journal, then exit. */
  readonly failures: boolean;
  /** `--redrive`: run the failed executions again, then exit. */
  readonly redrive: boolean;
  /** The options passed on to the AWS command behind --failures, --redrive or --replay-dead-letters. */
  readonly commandArgs: readonly string[];
  readonly port: number;
  /** How many times faster than real time the pipeline's one clock runs. */
  readonly clockSpeed: number;
  /** Everything the run writes goes under it (see dataLayout). */
  readonly dataDir: string;
  /** undefined: `dead-letters` in the data directory. */
  readonly deadLetterDir?: string;
  /** The account's Fargate On-Demand and Spot vCPU quotas. */
  readonly fargateVcpuQuota: number;
  readonly fargateSpotVcpuQuota: number;
  /** undefined: `executions` in the data directory. */
  readonly journalDir?: string;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly help: boolean;
  /** A template to run instead of synthesizing one. */
  readonly template?: string;
  /** `--task-command`: a shell command run as the task's container instead of the bundled worker. */
  readonly taskCommand?: string;
  /** `cdk synth -c key=value` context, e.g. `capacity=spot-with-fallback`. */
  readonly context: Readonly<Record<string, string>>;
  readonly faults: FaultOptions;
}

/** A bad command line: main prints the message (one line) and exits 2, as the AWS commands do. */
export { UsageError };

export const USAGE = `Usage: npm start -- [options] [file-or-dir...]
       npm start -- [options] --backfill [sub-prefix]
       npm start -- [options] --replay-dead-letters
       npm start -- [options] --failures | --redrive

Runs the pipeline locally from the template \`cdk synth\` produces: an embedded S3 server, the
EventBridge rule, the state machine and the worker as a local Fargate task. No AWS account, no Docker.

With files or directories: uploads them under the rule's input prefix (directories recursively,
keys relative to the directory), waits for every execution, prints a summary and exits 0 only if
all succeeded. Without: keeps running and processes whatever is written to the bucket until Ctrl-C.
Ctrl-C stops the running tasks (SIGTERM, then SIGKILL after their stop timeout; a second Ctrl-C
kills them at once), records their executions as ABORTED and exits 130.
--backfill runs the backfill state machine's Map over the objects already under the input prefix
(or under input prefix + sub-prefix), then exits 0 if the run SUCCEEDED. --replay-dead-letters,
--failures and --redrive run \`npm run replay-dead-letters\`, \`failures\` and \`redrive\` themselves
against the local endpoint (the executions of this and earlier runs: the journal), print what they
print and exit as they exit, after the executions they started finished.

Options:
  --port <n>                     the local AWS endpoint's port on 127.0.0.1, every service on it
                                 (default ${DEFAULT_PORT}; 0 = any free port)
  --data-dir <dir>               where the run keeps everything it writes (default ${DEFAULT_DATA_DIR}): the
                                 objects (s3/), dead letters, execution journal and cdk.out
  --dead-letter-dir <dir>        the rule target's dead-letter queue, one JSON file per event
                                 (default: dead-letters in --data-dir, i.e. .local/dead-letters)
  --backfill [sub-prefix]        process the objects already in the bucket, then exit
  --replay-dead-letters          replay the dead-lettered events, then exit
  --failures                     list the failed executions, then exit
  --redrive                      redrive the failed executions (a new execution past 14 days), then exit
  --since <when>, --key-prefix <p>, --dry-run
                                 --failures', --redrive's and --replay-dead-letters' own options, as
                                 npm run failures, redrive and replay-dead-letters take them (--help there)
  --journal-dir <dir>            every execution, one JSON file each, kept across runs
                                 (default: executions in --data-dir, i.e. .local/executions)
  --fargate-vcpu-quota <n>       the account's Fargate On-Demand vCPU quota (default ${DEFAULT_VCPU_QUOTA}, a new
                                 account's): tasks of 0.25 vCPU run 4 per vCPU at once, launches over it
                                 fail as on AWS (AmazonECS.Unknown) and the state machine retries them
  --fargate-spot-vcpu-quota <n>  the same for Fargate Spot (default ${DEFAULT_VCPU_QUOTA})
  -c, --context <key=value>      CDK context for the synth, repeatable (e.g. -c capacity=spot-with-fallback)
  --template <file>              run this synthesized template instead of running \`cdk synth\`
  --task-command <command>       run this command (with /bin/sh) as the task's container instead of
                                 the bundled worker, e.g. your own worker in another language; it
                                 gets the same environment, timeout, SIGTERM and exit-code handling
  --clock-speed <n>              how many times faster than real time the local clock runs (default
                                 ${LOCAL_CLOCK_SPEED}, at most ${MAX_CLOCK_SPEED}): retries, waits, timeouts, EventBridge's retries
                                 and the schedules alike; e.g. 2000 turns --inject-start-failures' day
                                 of retries into seconds (a worker's 3600 s timeout is then 1.8 s)
  --json                         print only the summary, as one JSON document
  --verbose                      print the worker's log lines
  --inject-duplicate-events <n>  deliver the first n "Object Created" events twice, as EventBridge's
                                 at-least-once delivery may: each object is still processed once
  --inject-launch-errors <kind:n>  make the first n task launches fail: throttling:n
                                 (ECS.AmazonECSException), capacity:n (AmazonECS.Unknown) or
                                 capacity-exception:n (no capacity as ECS.AmazonECSException)
  --inject-failed-to-start <n>   the first n tasks stop before their container runs (TaskFailedToStart)
  --inject-spot-interruptions <n>  interrupt the first n tasks placed on Fargate Spot
  --inject-start-failures <n>    the first n events cannot start an execution: EventBridge retries
                                 them per the target's RetryPolicy, then dead-letters them (THROTTLING)
  --inject-task-failures <n>     the first n tasks exit 1, as a crashing worker would (States.TaskFailed)
  --gate-fault <kind>=<amount>[@<state>]  repeatable: a fault of the launch gate's calls (every Task
                                 call on its table, and sendTaskSuccess/Failure) or of its cleanup's
                                 events. kind: lost-before (the answer lost, the call not applied),
                                 lost-after (applied, its answer lost), duplicate (applied twice),
                                 throttle, missed-event (a status-change event never delivered);
                                 amount: a rate 0..1 with a point (0.01) or the first n calls (3);
                                 @<state> only that state's calls, e.g. lost-after=1@ReleaseLaunchSlot.
                                 The summary says how many struck and where the gate came to rest
  --seed <n>                     seeds the --gate-fault rates: the same seed, the same faults (default 1)
  -h, --help                     show this help`;

const OPTIONS = {
  port: { type: 'string' },
  'clock-speed': { type: 'string' },
  'data-dir': { type: 'string' },
  'dead-letter-dir': { type: 'string' },
  backfill: { type: 'boolean', default: false },
  'replay-dead-letters': { type: 'boolean', default: false },
  failures: { type: 'boolean', default: false },
  redrive: { type: 'boolean', default: false },
  since: { type: 'string' },
  'key-prefix': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'journal-dir': { type: 'string' },
  concurrency: { type: 'string' },
  'fargate-vcpu-quota': { type: 'string' },
  'fargate-spot-vcpu-quota': { type: 'string' },
  'inject-failed-to-start': { type: 'string' },
  context: { type: 'string', short: 'c', multiple: true },
  template: { type: 'string' },
  'task-command': { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  'inject-duplicate-events': { type: 'string' },
  'inject-launch-errors': { type: 'string' },
  'inject-spot-interruptions': { type: 'string' },
  'inject-start-failures': { type: 'string' },
  'inject-task-failures': { type: 'string' },
  'gate-fault': { type: 'string', multiple: true },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * @param env - the environment: under `npm start`, npm's own reading of options it was not meant to see
 */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliOptions {
  const tookByNpm = optionsNpmTook(env);
  if (tookByNpm.length > 0) {
    throw new UsageError(
      `npm took ${tookByNpm.join(', ')} as its own option${tookByNpm.length === 1 ? ' and did not pass it' : 's and did not pass them'} ` +
        'on: put -- before the options, e.g. npm start -- --port 0 samples/',
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeNumbers(argv),
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
  } catch (error) {
    // parseArgs' messages name the option ("Unknown option '--foo'"); the fix is the help text.
    throw new UsageError(`${(error as Error).message.split('. ')[0]}; see --help`);
  }
  const { values, positionals } = parsed;
  if (values.concurrency !== undefined) {
    throw new UsageError(
      '--concurrency is gone: executions start as on AWS, with no queue in front of the state machine, and ' +
        "Fargate's vCPU quota bounds the tasks running at once: use --fargate-vcpu-quota <n> " +
        '(and --fargate-spot-vcpu-quota <n>), e.g. --fargate-vcpu-quota 1 for 4 tasks of 0.25 vCPU',
    );
  }
  const mode = exitingMode(
    {
      backfill: values.backfill,
      'replay-dead-letters': values['replay-dead-letters'],
      failures: values.failures,
      redrive: values.redrive,
    },
    positionals,
  );
  return {
    paths: mode ? [] : positionals,
    backfill: mode === 'backfill' ? { subPrefix: positionals[0] } : undefined,
    replayDeadLetters: mode === 'replay-dead-letters',
    failures: mode === 'failures',
    redrive: mode === 'redrive',
    commandArgs: commandArgs(mode, values),
    port: wholeNumber('--port', values.port, DEFAULT_PORT, 0, 65535),
    clockSpeed: clockSpeed(values['clock-speed']),
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    deadLetterDir: values['dead-letter-dir'],
    fargateVcpuQuota: vcpuQuota('--fargate-vcpu-quota', values['fargate-vcpu-quota']),
    fargateSpotVcpuQuota: vcpuQuota('--fargate-spot-vcpu-quota', values['fargate-spot-vcpu-quota']),
    journalDir: values['journal-dir'],
    json: values.json,
    verbose: values.verbose,
    help: values.help,
    template: values.template,
    taskCommand: taskCommand(values['task-command']),
    context: Object.fromEntries((values.context ?? []).map(contextPair)),
    faults: {
      launchErrors: launchErrors(values['inject-launch-errors']),
      spotInterruptions: wholeNumber(
        '--inject-spot-interruptions',
        values['inject-spot-interruptions'],
        0,
        0,
        1e6,
      ),
      startFailures: wholeNumber('--inject-start-failures', values['inject-start-failures'], 0, 0, 1e6),
      failedToStart: wholeNumber('--inject-failed-to-start', values['inject-failed-to-start'], 0, 0, 1e6),
      taskFailures: wholeNumber('--inject-task-failures', values['inject-task-failures'], 0, 0, 1e6),
      gate: gateFaults(values['gate-fault'] ?? []),
      seed: wholeNumber('--seed', values.seed, 1, 0, 2 ** 32 - 1),
      duplicateEvents: wholeNumber('--inject-duplicate-events', values['inject-duplicate-events'], 0, 0, 1e6),
    },
  };
}

/**
 * npm keeps an option given without `--` before it (`npm start --port 0 x`) as its own config
 * (npm_config_port) and passes only the rest on; `-c` is npm's `--call`, `--verbose` its log level.
 */
function optionsNpmTook(env: NodeJS.ProcessEnv): string[] {
  if (env.npm_lifecycle_event === undefined) return [];
  const took = Object.keys(OPTIONS)
    .filter((name) => env[`npm_config_${name.replaceAll('-', '_')}`] !== undefined)
    .filter((name) => name !== 'verbose')
    .map((name) => `--${name}`);
  if (env.npm_config_loglevel === 'verbose') took.push('--verbose');
  if (env.npm_config_call) took.push('-c');
  return took;
}

/**
 * parseArgs reads a value that starts with "-" as an option and calls it ambiguous
 * (`--fargate-vcpu-quota -1`); joined as `--option=-1`, it reaches the option's own check.
 */
function joinNegativeNumbers(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const option = name === undefined ? undefined : (OPTIONS as Record<string, { type: string }>)[name];
    if (option?.type === 'string' && /^-[\d.]/.test(argv[i + 1] ?? '')) {
      joined.push(`${argv[i]}=${argv[i + 1]}`);
      i++;
    } else {
      joined.push(argv[i]);
    }
  }
  return joined;
}

type ExitingMode = 'backfill' | 'replay-dead-letters' | 'failures' | 'redrive';

/** The runs that read the bucket, the dead letters or the journal, never local files: one at a time. */
function exitingMode(
  flags: Record<ExitingMode, boolean>,
  positionals: readonly string[],
): ExitingMode | undefined {
  const modes = (Object.keys(flags) as ExitingMode[]).filter((mode) => flags[mode]);
  if (modes.length > 1) {
    throw new UsageError(`${modes.map((m) => `--${m}`).join(' and ')} are separate runs: pass one of them`);
  }
  const [mode] = modes;
  const got = positionals.map((p) => JSON.stringify(p)).join(', ');
  if (mode && mode !== 'backfill' && positionals.length > 0) {
    throw new UsageError(`--${mode} takes no files (got ${got}): upload files in a separate run without it`);
  }
  if (mode === 'backfill') {
    const [subPrefix, ...more] = positionals;
    if (more.length > 0 || (subPrefix !== undefined && existsSync(subPrefix))) {
      throw new UsageError(
        `--backfill takes one key sub-prefix such as 2024/, not files (got ${got}): ` +
          'upload files in a separate run without --backfill',
      );
    }
  }
  return mode;
}

/** The AWS command's own options each mode passes on (see shared/commands); --json is npm start's too. */
const COMMAND_OPTIONS: Partial<Record<ExitingMode, readonly string[]>> = {
  failures: ['since'],
  redrive: ['since', 'key-prefix', 'dry-run'],
  'replay-dead-letters': ['dry-run'],
};

function commandArgs(
  mode: ExitingMode | undefined,
  values: { json: boolean; since?: string; 'key-prefix'?: string; 'dry-run'?: boolean },
): string[] {
  const takes = (mode && COMMAND_OPTIONS[mode]) ?? [];
  const args = mode && takes.length > 0 && values.json ? ['--json'] : [];
  for (const name of ['since', 'key-prefix', 'dry-run'] as const) {
    const value = values[name];
    if (value === undefined) continue;
    if (!takes.includes(name)) {
      const modes = Object.entries(COMMAND_OPTIONS)
        .filter(([, options]) => options.includes(name))
        .map(([m]) => `--${m}`);
      throw new UsageError(`--${name} is an option of ${modes.join(' and ')}: pass it with one of them`);
    }
    // Refused now, before the pipeline starts, in the command's own words.
    if (name === 'since') parseSince(value as string);
    args.push(...(typeof value === 'string' ? [`--${name}`, value] : [`--${name}`]));
  }
  return args;
}

export function wholeNumber(
  option: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `${option} ${JSON.stringify(raw)} is not valid: use a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** A whole number from 1 to MAX_CLOCK_SPEED; a faster one is told what goes wrong above it. */
function clockSpeed(raw: string | undefined): number {
  if (raw !== undefined && Number.isInteger(Number(raw)) && Number(raw) > MAX_CLOCK_SPEED) {
    throw new UsageError(
      `--clock-speed ${JSON.stringify(raw)} is too fast: above ${MAX_CLOCK_SPEED} the local engine's own work counts as ` +
        "minutes of pipeline time, so the launch gate's every-minute reconciler runs pile up (the run may never end) " +
        `and tasks come near their timeout; use a whole number from 1 to ${MAX_CLOCK_SPEED}`,
    );
  }
  return wholeNumber('--clock-speed', raw, LOCAL_CLOCK_SPEED, 1, MAX_CLOCK_SPEED);
}

function taskCommand(raw: string | undefined): string | undefined {
  if (raw !== undefined && raw.trim() === '') {
    throw new UsageError(
      '--task-command is empty: give the command that runs your worker, e.g. --task-command "python3 worker.py"',
    );
  }
  return raw;
}

export function contextPair(raw: string): [string, string] {
  const at = raw.indexOf('=');
  if (at <= 0) {
    throw new UsageError(
      `--context ${JSON.stringify(raw)} is not key=value: use e.g. -c capacity=spot-with-fallback`,
    );
  }
  return [raw.slice(0, at), raw.slice(at + 1)];
}

/** A vCPU quota: a number of vCPU above 0 (0.5 holds two tasks of 0.25 vCPU); see quotaFitsTask. */
export function vcpuQuota(option: string, raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_VCPU_QUOTA;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(
      `${option} ${JSON.stringify(raw)} is not valid: use a number of vCPU of at least one task's, e.g. ${DEFAULT_VCPU_QUOTA} (a new account's quota)`,
    );
  }
  return value;
}

/**
 * A quota below one task's vCPU can never launch a task: every object would wait out its retries
 * and fail, minutes later. `taskVcpu` is the template's task definition `Cpu` / 1024.
 */
export function quotaFitsTask(options: CliOptions, taskVcpu: number): void {
  const quotas = [
    ['--fargate-vcpu-quota', options.fargateVcpuQuota],
    ['--fargate-spot-vcpu-quota', options.fargateSpotVcpuQuota],
  ] as const;
  for (const [option, quota] of quotas) {
    if (quota < taskVcpu) {
      throw new UsageError(
        `${option} ${quota} is below one task's ${taskVcpu} vCPU (the template's task Cpu ${taskVcpu * 1024}): ` +
          `no task could start; use at least ${taskVcpu}`,
      );
    }
  }
}

function launchErrors(raw: string | undefined): FaultOptions['launchErrors'] {
  if (raw === undefined) return undefined;
  const [kind, count] = raw.split(':');
  if (!LAUNCH_ERROR_KINDS.includes(kind as LaunchErrorKind) || count === undefined) {
    throw new UsageError(
      `--inject-launch-errors ${JSON.stringify(raw)} is not valid: use throttling:<n>, capacity:<n> or capacity-exception:<n>, e.g. throttling:3`,
    );
  }
  return { kind: kind as LaunchErrorKind, count: wholeNumber('--inject-launch-errors', count, 0, 1, 1e6) };
}

/** Each --gate-fault, parsed; one kind at one state (or at every state) only once. */
function gateFaults(raws: readonly string[]): GateFault[] {
  const faults: GateFault[] = [];
  for (const raw of raws) {
    let fault: GateFault;
    try {
      fault = parseGateFault(raw);
    } catch (error) {
      if (error instanceof GateFaultError) throw new UsageError(error.message);
      throw error;
    }
    const twice = faults.find((f) => f.kind === fault.kind && f.stateName === fault.stateName);
    if (twice) {
      throw new UsageError(
        `--gate-fault ${JSON.stringify(raw)} gives ${fault.kind}${fault.stateName ? `@${fault.stateName}` : ''} a second time: give each kind once (per state)`,
      );
    }
    faults.push(fault);
  }
  return faults;
}
