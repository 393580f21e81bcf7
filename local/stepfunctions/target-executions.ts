import { AwsServiceError } from '../aws-service';
import type { LocalStateMachineResource } from './definitions';
import type { ExecutionRecord, LocalStepFunctions } from './executions';

/**
 * StartExecution as EventBridge's rule targets and EventBridge Scheduler's schedules call it: by
 * state machine ARN, refused as Step Functions refuses an ARN it does not know. Both `npm start`
 * (local/pipeline.ts) and the planner hand this to their LocalEventBus and LocalScheduler, so the
 * gate's cleanup (on status-change events) and its reconciler start the same way in both.
 */
export function targetExecutionStarter(
  stateMachines: readonly LocalStateMachineResource[],
  stepFunctions: () => LocalStepFunctions,
): (stateMachineArn: string, input: unknown, event?: unknown) => Promise<ExecutionRecord> {
  const byArn = new Map(stateMachines.map((machine) => [machine.arn, machine]));
  return async (stateMachineArn, input, event) => {
    const machine = byArn.get(stateMachineArn);
    if (!machine) {
      throw new AwsServiceError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return stepFunctions().startExecution(machine, input, { event });
  };
}
