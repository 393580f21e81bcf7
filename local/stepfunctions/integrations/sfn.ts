import { StatesError } from '../errors';
import { sfnIntegrationErrorName, type TaskTokens } from '../task-tokens';

/**
 * Step Functions' own API through the AWS SDK integration (`aws-sdk:sfn:sendTaskSuccess`,
 * `sendTaskFailure`), on the local task tokens. Errors are `Sfn.<error>Exception`, Step Functions'
 * rule for SDK integrations ("Exception" appended to the API's `TaskTimedOut`, `InvalidToken`).
 */

export const SFN_SDK_ACTIONS = ['sendTaskSuccess', 'sendTaskFailure', 'sendTaskHeartbeat'];

export function callSfn(tokens: TaskTokens, action: string, parameters: unknown): unknown {
  const request = (parameters ?? {}) as Record<string, unknown>;
  try {
    if (action === 'sendTaskSuccess')
      tokens.sendTaskSuccess(String(request.TaskToken), String(request.Output));
    else if (action === 'sendTaskHeartbeat') tokens.sendTaskHeartbeat(String(request.TaskToken));
    else {
      tokens.sendTaskFailure(
        String(request.TaskToken),
        request.Error as string | undefined,
        request.Cause as string | undefined,
      );
    }
    return {};
  } catch (error) {
    if (!(error instanceof StatesError)) throw error;
    throw new StatesError(sfnIntegrationErrorName(error), error.message);
  }
}
