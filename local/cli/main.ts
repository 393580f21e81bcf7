import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';

import { backfillPrefix } from '../../shared/backfill-prefix';
import { countsLine, errorCounts, failureLine, failureReport } from '../../shared/failed-executions';
import { redriveLine, redriveSummary } from '../../shared/redrive';
import { synthesize } from '../cloudformation/synth';
import { type LocalPipeline, startLocalPipeline } from '../pipeline';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS, localS3Environment } from '../s3/server';
import { runBackfill } from '../stepfunctions/backfill-map';
import { type CliOptions, DEFAULT_CDK_OUT, DEFAULT_DATA_DIR, parseCliArgs, USAGE, UsageError } from './args';
import { openFailures, redriveLocalFailures } from './redrive';
import { replayLocalDeadLetters } from './replay-dead-letters';
import { backfillLine, executionLine, summarize, undeliveredLine } from './report';

/**
 * `npm start [-- options] [file-or-dir...]`: the command-line shell over startLocalPipeline.
 * Problems the user can fix end in one line on stderr and a non-zero exit, never a stack trace.
 */

// The SDK warns on Node < 22 about its future support policy; locally that is noise on every run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Upload {
  readonly file: string;
  readonly key: string;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseCliArgs(argv);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const files = options.paths.flatMap(filesToUpload);
  // Progress goes to stderr so that --json keeps stdout to the one document.
  const progress = (line: string) => {
    if (!options.json) console.error(line);
  };

  let templatePath = options.template;
  if (!templatePath) {
    progress('Synthesizing the app (cdk synth, which also rebuilds the worker bundle)...');
    templatePath = await synthesize({ outDir: DEFAULT_CDK_OUT, context: options.context });
  }
  const pipeline = await startPipeline(options, templatePath);
  if (options.backfill) await checkSubPrefix(pipeline, options.backfill.subPrefix);
  progress(`Template: ${relative(process.cwd(), templatePath)}`);
  progress(
    options.taskCommand === undefined
      ? `Task container: the bundled worker${options.context.image === undefined ? '' : ' (-c image= changes only what deploys; --task-command runs your worker here)'}`
      : `Task container: /bin/sh -c ${JSON.stringify(options.taskCommand)}`,
  );

  if (options.backfill) return backfill(pipeline, options, options.backfill.subPrefix);
  if (options.replayDeadLetters) return replay(pipeline, options);
  if (options.failures) return listFailures(pipeline, options);
  if (options.redrive) return redrive(pipeline, options);
  if (files.length === 0) return watch(pipeline, options);

  for (const upload of files) {
    await pipeline.upload(pipeline.inputPrefix + upload.key, await readFile(upload.file));
  }
  await pipeline.waitForIdle();
  const summary = await summarize(pipeline);
  await pipeline.stop();
  if (options.json) {
    console.log(JSON.stringify(summary, null, 2));
  } else {
    const failed = summary.executions.filter((e) => e.status !== 'SUCCEEDED').length;
    console.log(
      `\n${summary.executions.length} executions: ${summary.executions.length - failed} succeeded, ${failed} failed`,
    );
    printDeadLetterCount(pipeline, options);
    await printFailureCount(pipeline, options);
  }
  const allSucceeded = summary.executions.every((e) => e.status === 'SUCCEEDED');
  return allSucceeded && summary.executions.length === files.length ? 0 : 1;

  async function startPipeline(cli: typeof options, template: string): Promise<LocalPipeline> {
    try {
      return await startLocalPipeline({
        templatePath: template,
        // The shell plays the image's CMD; the runner signals its whole process group.
        workerCommand: cli.taskCommand === undefined ? undefined : ['/bin/sh', '-c', cli.taskCommand],
        dataDir: resolve(cli.dataDir),
        port: cli.port,
        fargateVcpuQuota: cli.fargateVcpuQuota,
        fargateSpotVcpuQuota: cli.fargateSpotVcpuQuota,
        faults: cli.faults,
        onExecutionFinished: (record) => {
          if (!cli.json) console.log(executionLine(record));
        },
        onWorkerLog: cli.verbose ? (line) => console.error(`  worker | ${line}`) : undefined,
        deadLetterDir: cli.deadLetterDir && resolve(cli.deadLetterDir),
        journalDir: cli.journalDir && resolve(cli.journalDir),
        onUndelivered: (undelivered) => {
          if (!cli.json) console.log(undeliveredLine(undelivered, (file) => relative(process.cwd(), file)));
        },
      });
    } catch (error) {
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
  const result = await runBackfill(pipeline, { subPrefix });
  await pipeline.waitForIdle();
  const { executions } = await summarize(pipeline);
  await pipeline.stop();
  if (options.json) {
    const { prefix, status, items, failed, toleratedFailurePercentage } = result;
    console.log(
      JSON.stringify(
        { backfill: { prefix, status, items, failed, toleratedFailurePercentage }, executions },
        null,
        2,
      ),
    );
  } else {
    console.log(`\n${backfillLine(result)}`);
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

/** Starts an execution per dead-lettered event, waits for them all; exits 0 only if all succeeded. */
async function replay(pipeline: LocalPipeline, options: CliOptions): Promise<number> {
  const result = await replayLocalDeadLetters(pipeline, {
    onProgress: (outcome) => {
      if (outcome.error && !options.json) console.log(`KEPT       ${outcome.letterId}: ${outcome.error}`);
    },
  });
  const { executions } = await summarize(pipeline);
  await pipeline.stop();
  const failed = executions.filter((e) => e.status !== 'SUCCEEDED').length;
  if (options.json) {
    console.log(
      JSON.stringify(
        { replay: { replayed: result.replayed.length, kept: result.kept.length }, executions },
        null,
        2,
      ),
    );
  } else {
    console.log(
      `\n${result.replayed.length} dead letters replayed, ${result.kept.length} kept; ` +
        `${executions.length} executions: ${executions.length - failed} succeeded, ${failed} failed`,
    );
  }
  return result.kept.length === 0 && failed === 0 ? 0 : 1;
}

/** Lists the journal's failed executions (of this and earlier runs); exits 0. */
async function listFailures(pipeline: LocalPipeline, options: CliOptions): Promise<number> {
  const reports = (await openFailures(pipeline)).map((f) => failureReport(f, { console: false }));
  await pipeline.stop();
  if (options.json) {
    console.log(JSON.stringify({ failures: reports, counts: errorCounts(reports) }, null, 2));
  } else {
    for (const report of reports) console.log(failureLine(report));
    console.log(countsLine(reports));
  }
  return 0;
}

/** Redrives the failed executions, waits for them; exits 0 only if all were redriven and succeeded. */
async function redrive(pipeline: LocalPipeline, options: CliOptions): Promise<number> {
  const result = await redriveLocalFailures(pipeline, {
    onOutcome: (outcome) => {
      if (!options.json) console.log(redriveLine(outcome));
    },
  });
  const { executions } = await summarize(pipeline);
  await pipeline.stop();
  const failed = executions.filter((e) => e.status !== 'SUCCEEDED').length;
  if (options.json) {
    const outcomes = result.outcomes.map(({ key, action, failedExecutionArn, executionArn, detail }) => ({
      key,
      action,
      failedExecutionArn,
      executionArn: executionArn ?? null,
      detail: detail ?? null,
    }));
    console.log(JSON.stringify({ redrive: outcomes, executions }, null, 2));
  } else {
    console.log(
      `\n${redriveSummary(result)}; ${executions.length} executions: ${executions.length - failed} succeeded, ${failed} failed`,
    );
  }
  return result.notRedriven === 0 && failed === 0 ? 0 : 1;
}

/** e.g. `3 events in .local/dead-letters: npm start -- --replay-dead-letters`, when there are any. */
function printDeadLetterCount(pipeline: LocalPipeline, options: CliOptions): void {
  const count = pipeline.deadLetters.count();
  if (count === 0) return;
  const where = [
    options.dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${options.dataDir}`,
    options.deadLetterDir ? ` --dead-letter-dir ${options.deadLetterDir}` : '',
  ].join('');
  console.log(
    `${count} ${count === 1 ? 'event' : 'events'} in ${relative(process.cwd(), pipeline.deadLetters.directory)}: ` +
      `npm start --${where} --replay-dead-letters`,
  );
}

/** e.g. `2 failed executions in .local/executions: npm start -- --redrive`, when there are any. */
async function printFailureCount(pipeline: LocalPipeline, options: CliOptions): Promise<void> {
  const count = (await openFailures(pipeline)).length;
  if (count === 0) return;
  const where = [
    options.dataDir === DEFAULT_DATA_DIR ? '' : ` --data-dir ${options.dataDir}`,
    options.journalDir ? ` --journal-dir ${options.journalDir}` : '',
  ].join('');
  console.log(
    `${count} failed ${count === 1 ? 'execution' : 'executions'} in ${relative(process.cwd(), pipeline.journal.directory)}: ` +
      `npm start --${where} --failures, then --redrive once the cause is fixed`,
  );
}

/** Runs until Ctrl-C: prints how to write objects, then one line per execution. */
async function watch(pipeline: LocalPipeline, options: CliOptions): Promise<number> {
  const prefix = pipeline.inputPrefix;
  // The same settings the worker gets: s3rver also needs the CLI's streaming checksums off.
  const environment = Object.entries(localS3Environment(pipeline.endpoint))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  console.log(
    [
      '',
      `Local pipeline running. S3 endpoint: ${pipeline.endpoint}  bucket: ${pipeline.bucket}`,
      `Credentials: AWS_ACCESS_KEY_ID=${LOCAL_S3_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_S3_CREDENTIALS.secretAccessKey} AWS_REGION=${LOCAL_REGION}`,
      `Objects written under "${prefix}" are processed; results appear in the output prefix. Try:`,
      `  env ${environment} \\`,
      `  aws s3 cp samples/data.csv s3://${pipeline.bucket}/${prefix}data.csv`,
      'Ctrl-C stops (running executions finish first; press twice to stop them too).',
      '',
    ].join('\n'),
  );
  printDeadLetterCount(pipeline, options);
  await printFailureCount(pipeline, options);
  return new Promise((resolveExit) => {
    let stopping = false;
    process.on('SIGINT', () => {
      if (stopping) {
        console.error('Stopping running tasks (SIGTERM)...');
        void pipeline.stop({ drain: false });
        return;
      }
      stopping = true;
      const running = pipeline.executions().filter((e) => e.status === 'RUNNING').length;
      console.error(`\nStopping: waiting for ${running} execution(s) to finish...`);
      void pipeline.stop().then(() => {
        printDeadLetterCount(pipeline, options);
        resolveExit(0);
      });
    });
  });
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
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = join(entry.parentPath, entry.name);
      return { file, key: relative(path, file).split(sep).join('/') };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known =
      error instanceof Error && ['UsageError', 'SynthError', 'TemplateError'].includes(error.name);
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (!known && process.env.DEBUG) console.error(error);
    process.exit(known && error.name === 'UsageError' ? 2 : 1);
  },
);
