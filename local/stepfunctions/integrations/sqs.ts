import { SqsError } from '../../sqs/queue-messages';
import type { LocalSqs } from '../../sqs/queues';
import { StatesError } from '../asl/errors';
import { integrationErrorName } from './error-names';

/**
 * SQS for the state machines, on the local queues (local/sqs/queues.ts): the optimized
 * `sqs:sendMessage` (a MessageBody that is not a string is sent as its JSON, as Step Functions does)
 * and the AWS SDK integration's `sendMessage`, `receiveMessage` and `deleteMessage`. Error names
 * follow Step Functions' rule for each: the SDK integration's are `Sqs.<error>Exception` (service and
 * error in PascalCase, "Exception" appended when the API's name lacks it); the optimized one's
 * `SQS.<error>Exception`, by analogy with the other optimized integrations (`ECS.…`, `DynamoDB.…`):
 * AWS documents no SQS example.
 */

export const SQS_SDK_ACTIONS = ['sendMessage', 'receiveMessage', 'deleteMessage'];

export async function callSqs(
  sqs: LocalSqs,
  action: string,
  parameters: unknown,
  errorPrefix: 'SQS' | 'Sqs',
): Promise<unknown> {
  const request = (parameters ?? {}) as Record<string, unknown>;
  try {
    const queue = sqs.queue(request.QueueUrl);
    switch (action) {
      case 'sendMessage': {
        const body = request.MessageBody;
        if (errorPrefix === 'Sqs' && typeof body !== 'string') {
          throw new SqsError('InvalidParameterValue', 'MessageBody must be a string');
        }
        return queue.sendMessage(typeof body === 'string' ? body : JSON.stringify(body));
      }
      case 'receiveMessage':
        return await queue.receiveMessage(request);
      case 'deleteMessage':
        queue.deleteMessage(String(request.ReceiptHandle));
        return {};
      default:
        throw new Error(`SQS action ${action} is not served locally`);
    }
  } catch (error) {
    if (!(error instanceof SqsError)) throw error;
    throw new StatesError(integrationErrorName(errorPrefix, error.name), error.message);
  }
}
