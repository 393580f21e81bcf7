import type { AwsClientSettings, AwsCommand } from '../../shared/commands/command';
import type { LocalPipeline } from '../pipeline';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../s3/server';

/**
 * `npm start -- --failures`, `--redrive` and `--replay-dead-letters`: the project's AWS command
 * itself (shared/commands), run against the local endpoint as `npm run failures` is with
 * AWS_ENDPOINT_URL set: the same lines, the same exit code (a refused argument or a failure is
 * npm start's one-line error, exit 2 or 1, as the command's entry point gives it). Then the pipeline
 * stops, letting the executions the command started finish (each printed as any execution of
 * `npm start` is).
 */

/** What the banner's environment block gives a client: the endpoint, the local account's key, the region. */
export function localClientSettings(pipeline: Pick<LocalPipeline, 'endpoint'>): AwsClientSettings {
  return { endpoint: pipeline.endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_S3_CREDENTIALS } };
}

export async function runAwsCommandLocally(
  pipeline: LocalPipeline,
  command: AwsCommand,
  argv: readonly string[],
): Promise<number> {
  try {
    return await command(argv, console.log, localClientSettings(pipeline));
  } finally {
    await pipeline.stop();
  }
}
