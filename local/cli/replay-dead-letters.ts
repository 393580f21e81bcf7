import { SQSClient } from '@aws-sdk/client-sqs';

import {
  replayDeadLetters,
  type ReplayOutcome,
  type ReplayReport,
  sqsDeadLetterSource,
} from '../../shared/dead-letter-replay';
import type { ExecutionRecord, LocalPipeline } from '../pipeline';
import { LOCAL_REGION, LOCAL_S3_CREDENTIALS } from '../s3/server';
import { ExecutionAlreadyExists } from '../stepfunctions/errors';

/**
 * `npm start -- --replay-dead-letters`: the shared replay loop (the one `npm run replay-dead-letters`
 * runs against SQS and Step Functions), reading the dead-letter queue through the local endpoint with
 * the SQS client as the AWS command does, and starting executions through the pipeline's own start
 * path. A name already started (a replay interrupted between the start and the message's deletion)
 * is a no-op, as ExecutionAlreadyExists is for the AWS command.
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
  const sqs = new SQSClient({
    endpoint: pipeline.endpoint,
    region: LOCAL_REGION,
    credentials: { ...LOCAL_S3_CREDENTIALS },
  });
  try {
    const report = await replayDeadLetters({
      source: sqsDeadLetterSource(sqs, pipeline.deadLetters.queue.url),
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
  } finally {
    sqs.destroy();
  }
}
