import { replayDeadLetters, type ReplayOutcome, type ReplayReport } from '../../shared/dead-letter-replay';
import type { ExecutionRecord, LocalPipeline } from '../pipeline';
import { ExecutionAlreadyExists } from '../stepfunctions/errors';

/**
 * `npm start -- --replay-dead-letters`: the shared replay loop (the one `npm run replay-dead-letters`
 * runs against SQS and Step Functions) over the local dead-letter directory, starting executions
 * through the pipeline's own start path. A name already started (a replay interrupted between the
 * start and the file's deletion) is a no-op, as ExecutionAlreadyExists is for the AWS command.
 */

export interface LocalReplayResult extends ReplayReport {
  /** The executions this replay started, finished. */
  readonly executions: readonly ExecutionRecord[];
}

export async function replayLocalDeadLetters(
  pipeline: LocalPipeline,
  options: { readonly onProgress?: (outcome: ReplayOutcome) => void } = {},
): Promise<LocalReplayResult> {
  const started: ExecutionRecord[] = [];
  const report = await replayDeadLetters({
    source: pipeline.deadLetters.source(),
    target: pipeline.rule.target,
    startExecution: async (input, name) => {
      try {
        const record = pipeline.startExecution(input, { name });
        started.push(record);
        return record.executionArn;
      } catch (error) {
        if (!(error instanceof ExecutionAlreadyExists)) throw error;
        const earlier = pipeline.executions().find((record) => record.name === name);
        return `${earlier?.executionArn ?? name} (already started)`;
      }
    },
    onProgress: options.onProgress,
  });
  await pipeline.waitForIdle();
  return { ...report, executions: started };
}
