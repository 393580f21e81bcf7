import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';

import { backfillPrefix } from '../../shared/backfill-prefix';
import { RealClock } from '../clock';
import { SynthError, synthesize } from '../cloudformation/synth';
import { readTemplateFile } from '../cloudformation/template';
import { GateFaultError } from '../faults/gate-faults';
import type { ExecutionRecord, LocalPipeline } from '../pipeline';
import {
  type CliOptions,
  dataLayout,
  DEFAULT_DATA_DIR,
  parseCliArgs,
  quotaFitsTask,
  USAGE,
  UsageError,
} from './args';
import { backfillLine, counted, executionLine, gateLine, summarize, undeliveredLine } from './report';
import { taskCommandFound } from './task-command';

/**
 * `npm start [-- options] [file-or-dir...]`: the command-line shell over startLocalPipeline.
 * Problems the user can fix end in one line on stderr and a non-zero exit, never a stack trace.
 * The emulator, the AWS SDK clients and the local S3 server are imported where they are first used,
 * after the arguments are checked: a usage error then costs ~0.16 s of CPU instead of ~0.6 s (from
 * the bundle bin/run-bundled.mjs runs; esbuild keeps each dynamic import lazy).
 */

// The SDK warns on Node < 22 about its future support policy; locally that is noise on every run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Upload {
  readonly file: string;
  readonly key: string;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseCliArgs(argv, process.env);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const files = options.paths.flatMap(filesToUpload);
  if (options.taskCommand !== undefined) await taskCommandFound(options.taskCommand);
  const dataDir = resolve(options.dataDir);
  const layout = dataLayout(dataDir);
  const { holdDataDirectory } = await import('./data-dir-lock');
  await holdDataDirectory(dataDir, options.dataDir, (warning) => console.error(warning));
  // Progress goes to stderr so that --json keeps stdout to the one document.
  const progress = (line: string) => {
    if (!options.json) console.error(line);
  };

  let templatePath = options.template;
  if (!templatePath) {
    progress('Synthesizing the app (cdk synth, which also rebuilds the worker bundle)...');
    templatePath = await synthesize({ outDir: layout.cdkOut, context: options.context }).catch(
      (error: unknown) => {
        // A value of -c or cdk.json the app refused: the app's own lines, without the CLI's around them.
        const problems = error instanceof SynthError ? error.configurationProblems : [];
        throw problems.length > 0 ? new UsageError(problems.join('\nerror: ')) : error;
      },
    );
  }
  quotaFitsTask(options, taskVcpu(templatePath));
  const pipeline = await startPipeline(options, templatePath);
  stopOnInterrupt(pipeline, options);
  if (options.backfill) await checkSubPrefix(pipeline, options.backfill.subPrefix);
  progress(`Template: ${relative(process.cwd(), templatePath)}`);
  // Real processes run in real time on a sped-up clock: a task's duration, its timeout and every
  // wait are read on that clock, so say so before the first duration is printed.
  progress(
    `Clock: ${options.clockSpeed} times real time (--clock-speed): retries, waits, timeouts and the durations below are pipeline time`,
  );
  progress(
    options.taskCommand === undefined
      ? `Task container: the bundled worker${options.context.image === undefined ? '' : ' (-c image= changes only what deploys; --task-command runs your worker here)'}`
      : `Task container: /bin/sh -c ${JSON.stringify(options.taskCommand)}`,
  );

  if (options.backfill) return backfill(pipeline, options, options.backfill.subPrefix);
  const { runAwsCommandLocally } = await import('./aws-command');
  if (options.replayDeadLetters) {
    const { replayCommand } = await import('../../shared/commands/replay-dead-letters');
    return runAwsCommandLocally(pipeline, replayCommand, options.commandArgs);
  }
  if (options.failures) {
    const { failures } = await import('../../shared/commands/failures');
    return runAwsCommandLocally(pipeline, failures, options.commandArgs);
  }
  if (options.redrive) {
    const { redrive } = await import('../../shared/commands/redrive');
    return runAwsCommandLocally(pipeline, redrive, options.commandArgs);
  }
  if (files.length === 0) return watch(pipeline, options);

  for (const upload of files) {
    await pipeline.upload(pipeline.inputPrefix + upload.key, await readFile(upload.file));
  }
  await unlessInterrupted(pipeline.waitForIdle());
  const summary = await summarize(pipeline);
  // Asked of the endpoint, so before it stops.
  const failureHint = options.json ? undefined : await failureCountLine(pipeline, options);
  // Each object once, as its record has it: a duplicate event's execution is not an object of its own.
  const { objectCounts, recordsTableName, summarizeObjects } = await import('./object-summary');
  const tableName = recordsTableName(templatePath, pipeline);
  const objects = tableName === undefined ? undefined : await summarizeObjects(pipeline, tableName);
  await pipeline.stop();
  if (options.json) {
    const { peakRunningTasks, ...rest } = summary;
    console.log(JSON.stringify({ peakRunningTasks, ...(objects && { objects }), ...rest }, null, 2));
  } else {
    console.log(`\n${objects ? objectCounts(objects) : executionCounts(summary.executions)}`);
    // Records are kept across runs (keyed by ETag, as on AWS): the same files again are duplicates.
    const thisRun = new Set(pipeline.executions().map((e) => e.executionArn));
    const earlier = objects?.filter((o) => !thisRun.has(o.executionArn)).length ?? 0;
    if (earlier > 0) {
      console.log(
        `${counted(earlier, 'object')} had been processed by an earlier run (records in ${relative(process.cwd(), layout.dynamodb) || '.'}): ` +
          'change the files, or remove that directory, to process them again',
      );
    }
    const gate = gateLine(summary);
    if (gate) console.log(gate);
    printDeadLetterCount(pipeline, options);
    if (failureHint) console.log(failureHint);
  }
  // A slot or a waiter left once every execution has ended is lost: the gate is broken.
  const gateAtRest = !summary.gate || summary.gate.holders + summary.gate.waiters === 0;
  const done = objects ?? summary.executions;
  return done.every((o) => o.status === 'SUCCEEDED') && gateAtRest && done.length === files.length ? 0 : 1;

  async function startPipeline(cli: typeof options, template: string): Promise<LocalPipeline> {
    const { startLocalPipeline } = await import('../pipeline');
    try {
      return await startLocalPipeline({
        templatePath: template,
        // The shell plays the image's CMD; the runner signals its whole process group.
        workerCommand: cli.taskCommand === undefined ? undefined : ['/bin/sh', '-c', cli.taskCommand],
        dataDir: layout.s3,
        port: cli.port,
        clock: new RealClock(cli.clockSpeed),
        fargateVcpuQuota: cli.fargateVcpuQuota,
        fargateSpotVcpuQuota: cli.fargateSpotVcpuQuota,
        faults: cli.faults,
        onExecutionFinished: (record) => {
          // After Ctrl-C the stopped tasks' executions end as ABORTED, which stopOnInterrupt reports.
          if (!cli.json && !interrupted) console.log(executionLine(record));
        },
        onWorkerLog: cli.verbose ? (line) => console.error(`  worker | ${line}`) : undefined,
        deadLetterDir: cli.deadLetterDir ? resolve(cli.deadLetterDir) : layout.deadLetters,
        journalDir: cli.journalDir ? resolve(cli.journalDir) : layout.executions,
        tablesDir: layout.dynamodb,
        onUndelivered: (undelivered) => {
          if (!cli.json) console.log(undeliveredLine(undelivered, (file) => relative(process.cwd(), file)));
        },
      });
    } catch (error) {
      // A --gate-fault naming a state the template lacks is found only once the template is read.
      if (error instanceof GateFaultError) throw new UsageError(error.message);
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new UsageError(
          `port ${cli.port} is in use: stop what uses it or pass --port <another port> (0 = any)`,
        );
      }
      throw error;
    }
  }
}

/** A sub-prefix backfillPrefix rejects is the user's to fix: a usage error. */
async function checkSubPrefix(pipeline: LocalPipeline, subPrefix?: string): Promise<void> {
  try {
    backfillPrefix(pipeline.inputPrefix, subPrefix);
  } catch (error) {
    await pipeline.stop();
    throw new UsageError(`--backfill ${JSON.stringify(subPrefix)}: ${(error as Error).message}`);
  }
}

/** Lists the bucket under the (sub-)prefix and runs the backfill Map over it; exits when done. */
async function backfill(pipeline: LocalPipeline, options: CliOptions, subPrefix?: string): Promise<number> {
  const { runBackfill } = await import('../stepfunctions/backfill-map');
  const result = await unlessInterrupted(runBackfill(pipeline, { subPrefix }));
  await pipeline.waitForIdle();
  const summary = await summarize(pipeline);
  const { executions, gate, gateFaults } = summary;
  await pipeline.stop();
  if (options.json) {
    const { prefix, status, items, failed, toleratedFailurePercentage } = result;
    console.log(
      JSON.stringify(
        {
          backfill: { prefix, status, items, failed, toleratedFailurePercentage },
          executions,
          gate,
          gateFaults,
        },
        null,
        2,
      ),
    );
  } else {
    console.log(`\n${backfillLine(result)}`);
    const line = gateLine(summary);
    if (line) console.log(line);
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

/** ` --data-dir X`, unless it is the default: what a follow-up command needs to find this run's data. */
function dataDirArgs(options: CliOptions): string {
  return options.dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${options.dataDir}`;
}

/** The options that find this run's journal again. */
function journalArgs(options: CliOptions): string {
  return dataDirArgs(options) + (options.journalDir ? ` --journal-dir ${options.journalDir}` : '');
}

/** e.g. `3 events in .local/dead-letters: npm start -- --replay-dead-letters`, when there are any. */
function printDeadLetterCount(pipeline: LocalPipeline, options: CliOptions): void {
  const count = pipeline.deadLetters.count();
  if (count === 0) return;
  const where = [
    dataDirArgs(options),
    options.deadLetterDir ? ` --dead-letter-dir ${options.deadLetterDir}` : '',
  ].join('');
  console.log(
    `${counted(count, 'event')} in ${relative(process.cwd(), pipeline.deadLetters.directory)}: ` +
      `npm start --${where} --replay-dead-letters`,
  );
}

/** e.g. `2 failed executions in .local/executions: npm start -- --failures, ...`: what --failures lists, if any. */
async function failureCountLine(pipeline: LocalPipeline, options: CliOptions): Promise<string | undefined> {
  const [{ failures }, { localClientSettings }] = await Promise.all([
    import('../../shared/commands/failures'),
    import('./aws-command'),
  ]);
  const printed: string[] = [];
  await failures(['--json'], (line) => printed.push(line), localClientSettings(pipeline));
  const count = (JSON.parse(printed.join('\n')) as { failures: unknown[] }).failures.length;
  if (count === 0) return undefined;
  const where = journalArgs(options);
  return (
    `${counted(count, 'failed execution')} in ${relative(process.cwd(), pipeline.journal.directory)}: ` +
    `npm start --${where} --failures, then --redrive once the cause is fixed`
  );
}

/** Runs until Ctrl-C: prints how to write objects, then one line per execution. */
async function watch(pipeline: LocalPipeline, options: CliOptions): Promise<number> {
  const { endpointBanner } = await import('./banner');
  console.log(
    endpointBanner({
      endpoint: pipeline.endpoint,
      served: pipeline.awsEndpoint.served(),
      bucket: pipeline.bucket,
      inputPrefix: pipeline.inputPrefix,
      deadLetterQueueUrl: pipeline.deadLetters.queue.url,
      ruleName: pipeline.rule.ruleName,
      tableNames: pipeline.dynamodb.tables.map((table) => table.tableName),
      stateMachineArn: pipeline.stateMachine.arn,
    }),
  );
  console.log(
    'Ctrl-C stops: running tasks get SIGTERM and their executions end ABORTED (--redrive runs them again).\n',
  );
  printDeadLetterCount(pipeline, options);
  const failureHint = await failureCountLine(pipeline, options);
  if (failureHint) console.log(failureHint);
  // Only Ctrl-C ends it (stopOnInterrupt).
  return new Promise<never>(() => undefined);
}

/** Set by the first Ctrl-C: from then on, stopOnInterrupt alone reports and exits. */
let interrupted = false;

/** `work`, unless Ctrl-C came first: then it never settles, and stopOnInterrupt ends the process. */
async function unlessInterrupted<T>(work: Promise<T>): Promise<T> {
  const value = await work;
  return interrupted ? new Promise<never>(() => undefined) : value;
}

/**
 * Ctrl-C (SIGINT) ends the run as StopExecution would end its executions. The first stops accepting
 * objects, stops the running tasks (SIGTERM to each task's process group, SIGKILL after the
 * container's stop timeout), records their executions as ABORTED in the journal, says so and exits
 * 130; a second kills the tasks at once and exits 130 without waiting.
 */
function stopOnInterrupt(pipeline: LocalPipeline, options: CliOptions): void {
  let running: readonly ExecutionRecord[] = [];
  const finish = () => {
    const stopDate = new Date().toISOString();
    for (const { executionArn } of running) {
      const entry = pipeline.journal.get(executionArn);
      if (entry) {
        pipeline.journal.write({
          ...entry,
          status: 'ABORTED',
          error: undefined,
          cause: 'Stopped by Ctrl-C (SIGINT) on npm start',
          stopDate,
        });
      }
    }
    if (running.length > 0) {
      console.error(
        `Stopped ${counted(running.length, 'execution')} as ABORTED (${running.map((e) => e.key).join(', ')}) ` +
          `in ${relative(process.cwd(), pipeline.journal.directory)}: npm start --${journalArgs(options)} --redrive runs them again`,
      );
    }
    process.exit(130);
  };
  process.on('SIGINT', () => {
    if (interrupted) {
      console.error(`Ctrl-C again: killing ${counted(running.length, 'task')} now (SIGKILL)`);
      pipeline.killTasks();
      finish();
      return;
    }
    interrupted = true;
    running = pipeline.executions().filter((e) => e.status === 'RUNNING');
    console.error(
      `\nCtrl-C: stopping ${counted(running.length, 'running execution')} ` +
        '(SIGTERM to their tasks, SIGKILL after the stop timeout; Ctrl-C again kills them now)',
    );
    pipeline.stop({ drain: false }).then(finish, (error: unknown) => {
      console.error(`error: stopping the local pipeline failed: ${String(error)}`);
      finish();
    });
  });
}

/** `- N executions: x succeeded, y failed` */
function executionCounts(executions: readonly { readonly status: string }[]): string {
  const failed = executions.filter((e) => e.status !== 'SUCCEEDED').length;
  return `${counted(executions.length, 'execution')}: ${executions.length - failed} succeeded, ${failed} failed`;
}

/** The largest task's vCPU in the template (its task definitions' `Cpu` / 1024). */
function taskVcpu(templatePath: string): number {
  const { Resources = {} } = readTemplateFile(templatePath);
  const cpus = Object.values(Resources)
    .filter((resource) => resource.Type === 'AWS::ECS::TaskDefinition')
    .map((resource) => Number(resource.Properties?.Cpu))
    .filter((cpu) => Number.isFinite(cpu));
  return Math.max(0, ...cpus) / 1024;
}

/** The files under `path` with their keys relative to it (a file alone keeps its base name). */
function filesToUpload(path: string): Upload[] {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file or directory; pass files or directories to upload`);
  }
  if (!stats.isDirectory()) return [{ file: path, key: basename(path) }];
  const files = readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = join(entry.parentPath, entry.name);
      return { file, key: relative(path, file).split(sep).join('/') };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
  if (files.length === 0) {
    throw new UsageError(
      `${path}: no objects found in that directory; put files in it, or pass no path to keep running and watch the bucket`,
    );
  }
  return files;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (!interrupted) process.exit(code);
  },
  (error: unknown) => {
    // After Ctrl-C, what the stop broke (an upload to the closed server) is not an error to report.
    if (interrupted) return;
    const known =
      error instanceof Error && ['UsageError', 'SynthError', 'TemplateError'].includes(error.name);
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (!known && process.env.DEBUG) console.error(error);
    // A template that cannot be read is bad input as much as a bad option.
    process.exit(known && error.name !== 'SynthError' ? 2 : 1);
  },
);
