import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';

import { DEFAULT_CDK_OUT, parseCliArgs, USAGE, UsageError } from './cli-args';
import { type LocalPipeline, startLocalPipeline } from './pipeline';
import { executionLine, summarize } from './report';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from './s3-server';
import { synthesize } from './synth';

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
  progress(`Template: ${relative(process.cwd(), templatePath)}`);

  if (files.length === 0) return watch(pipeline);

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
  }
  const allSucceeded = summary.executions.every((e) => e.status === 'SUCCEEDED');
  return allSucceeded && summary.executions.length === files.length ? 0 : 1;

  async function startPipeline(cli: typeof options, template: string): Promise<LocalPipeline> {
    try {
      return await startLocalPipeline({
        templatePath: template,
        dataDir: resolve(cli.dataDir),
        port: cli.port,
        concurrency: cli.concurrency,
        faults: cli.faults,
        onExecutionFinished: (record) => {
          if (!cli.json) console.log(executionLine(record));
        },
        onWorkerLog: cli.verbose ? (line) => console.error(`  worker | ${line}`) : undefined,
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

/** Runs until Ctrl-C: prints how to write objects, then one line per execution. */
async function watch(pipeline: LocalPipeline): Promise<number> {
  const prefix = pipeline.inputPrefix;
  console.log(
    [
      '',
      `Local pipeline running. S3 endpoint: ${pipeline.endpoint}  bucket: ${pipeline.bucket}`,
      `Credentials: AWS_ACCESS_KEY_ID=${LOCAL_S3_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_S3_CREDENTIALS.secretAccessKey} AWS_REGION=${LOCAL_REGION}`,
      `Objects written under "${prefix}" are processed; results appear in the output prefix. Try:`,
      `  AWS_ACCESS_KEY_ID=${LOCAL_S3_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_S3_CREDENTIALS.secretAccessKey} \\`,
      `  aws s3 cp samples/data.csv s3://${pipeline.bucket}/${prefix}data.csv --endpoint-url ${pipeline.endpoint} --region ${LOCAL_REGION}`,
      'Ctrl-C stops (running executions finish first; press twice to stop them too).',
      '',
    ].join('\n'),
  );
  return new Promise((resolveExit) => {
    let stopping = false;
    process.on('SIGINT', () => {
      if (stopping) {
        console.error('Stopping running tasks (SIGTERM)...');
        void pipeline.stop({ drain: false });
        return;
      }
      stopping = true;
      const running = pipeline
        .executions()
        .filter((e) => e.status === 'RUNNING' || e.status === 'QUEUED').length;
      console.error(`\nStopping: waiting for ${running} execution(s) to finish...`);
      void pipeline.stop().then(() => resolveExit(0));
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
    console.error(`error: ${known ? error.message : error instanceof Error ? error.message : String(error)}`);
    if (!known && process.env.DEBUG) console.error(error);
    process.exit(known && error.name === 'UsageError' ? 2 : 1);
  },
);
