import { AwsServiceError, type LocalAwsService } from '../../aws-service';
import { StatesError } from '../asl/errors';
import { integrationErrorName } from './error-names';

/**
 * An integration served by a local service through its API (aws-service.ts): the Step Functions
 * API for `aws-sdk:sfn:*` and `states:startExecution`, the local CloudWatch for
 * `aws-sdk:cloudwatch:putMetricData`, the local event bus for `events:putEvents`. The state's
 * Parameters are PascalCase; a service whose API is camelCase (Step Functions) gets them renamed,
 * and answers renamed back. Errors are `<prefix>.<code>Exception`.
 */

export interface ServiceCall {
  readonly service: LocalAwsService;
  /** The API action: `DescribeExecution`. */
  readonly action: string;
  /** Step Functions' API takes camelCase members where the state writes PascalCase. */
  readonly camelCase: boolean;
  /** `Sfn`, `CloudWatch`, `EventBridge`... */
  readonly errorPrefix: string;
}

export async function callService(call: ServiceCall, parameters: unknown): Promise<unknown> {
  const toApi = (key: string) => (call.camelCase ? `${key[0].toLowerCase()}${key.slice(1)}` : key);
  const fromApi = (key: string) => (call.camelCase ? `${key[0].toUpperCase()}${key.slice(1)}` : key);
  try {
    const response = await call.service.call(
      call.action,
      renameKeys(parameters, toApi) as Record<string, unknown>,
    );
    return renameKeys(response, fromApi);
  } catch (error) {
    if (!(error instanceof AwsServiceError)) throw error;
    throw new StatesError(integrationErrorName(call.errorPrefix, error.code), error.message);
  }
}

/** The top-level keys renamed (nested values, e.g. an execution's input, are data and kept as they are). */
function renameKeys(value: unknown, rename: (key: string) => string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value ?? {};
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [rename(key), inner]));
}
