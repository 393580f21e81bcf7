import type { FailedExecution } from '../../shared/failed-executions';
import {
  executionArnOf,
  planRedrives,
  redriveFailures,
  type RedriveOutcome,
  type RedriveReport,
  withoutRestarted,
} from '../../shared/redrive';
import type { ExecutionRecord, LocalPipeline } from '../pipeline';
import { ExecutionAlreadyExists } from '../stepfunctions/errors';

/**
 * `npm start -- --failures` and `--redrive`: the journal's failed executions, and the shared redrive
 * plan and loop (the ones `npm run redrive` runs against Step Functions) carried out by the local
 * Step Functions: RedriveExecution where it accepts the execution, otherwise a new execution under
 * the deterministic name, which a second redrive finds taken.
 */

/** The journal's failures that no redrive has restarted yet. */
export function openFailures(pipeline: LocalPipeline): Promise<FailedExecution[]> {
  return withoutRestarted(pipeline.journal.failures(), pipeline.stateMachine.arn, async (arn) =>
    pipeline.journal.has(arn),
  );
}

export interface LocalRedriveResult extends RedriveReport {
  /** The executions this redrive ran, finished. */
  readonly executions: readonly ExecutionRecord[];
}

export async function redriveLocalFailures(
  pipeline: LocalPipeline,
  options: { readonly onOutcome?: (outcome: RedriveOutcome) => void } = {},
): Promise<LocalRedriveResult> {
  const plan = planRedrives(await openFailures(pipeline), { workflowArn: pipeline.stateMachine.arn });
  const started: ExecutionRecord[] = [];
  const report = await redriveFailures(
    plan,
    {
      async redrive(executionArn) {
        started.push(pipeline.redriveExecution(executionArn));
      },
      async start(stateMachineArn, name, input) {
        // Locally, as deployed, new executions run in the event-driven workflow only.
        if (stateMachineArn !== pipeline.stateMachine.arn) {
          throw new Error(
            `${stateMachineArn} is not the event-driven state machine ${pipeline.stateMachine.arn}`,
          );
        }
        try {
          const record = pipeline.startExecution(JSON.parse(input), { name });
          started.push(record);
          return { executionArn: record.executionArn, existed: false };
        } catch (error) {
          if (!(error instanceof ExecutionAlreadyExists)) throw error;
          return { executionArn: executionArnOf(stateMachineArn, name), existed: true };
        }
      },
    },
    { onOutcome: options.onOutcome },
  );
  await pipeline.waitForIdle();
  return { ...report, executions: started };
}
