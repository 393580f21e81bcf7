/**
 * One AWS service as the local endpoint serves it, and as the local Step Functions' service
 * integrations call it: an action and its request, in the JSON shapes of the service's API
 * reference (`StartExecution` with `{ stateMachineArn, name, input }`), in; the response, in the
 * same shapes, out. A refusal is an AwsServiceError carrying the code and HTTP status AWS answers
 * with, so one implementation serves the SDK, the AWS CLI, boto3 and a state machine's Task alike;
 * only the wire protocol (JSON with X-Amz-Target, or the query protocol) differs, and that is the
 * endpoint's business.
 */
export interface LocalAwsService {
  /** The SigV4 signing name a request's credential scope carries: `states`, `sqs`, `cloudformation`... */
  readonly signingName: string;
  call(action: string, request: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** A refusal as AWS words it: e.g. `ExecutionDoesNotExist`, 400. */
export class AwsServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }
}
