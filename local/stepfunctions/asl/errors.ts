/**
 * An error as Step Functions raises it inside an execution: Retry and Catch match on `name`
 * (`States.TaskFailed`, `DynamoDB.ConditionalCheckFailedException`...), the cause is the text.
 */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/**
 * Errors no Retry or Catch handles, not even `States.ALL`: the execution fails at once, as on AWS
 * (a path that matches nothing, a result too large).
 */
export const UNCATCHABLE_ERRORS: ReadonlySet<string> = new Set([
  'States.Runtime',
  'States.DataLimitExceeded',
]);

/** A States.Runtime failure: a path that matches nothing, a value of the wrong type. */
export function runtimeError(cause: string): StatesError {
  return new StatesError('States.Runtime', cause);
}

/**
 * A JSONata expression that failed, or gave nothing (or a function) where a value is needed:
 * `States.QueryEvaluationError`, catchable. `location` is the field, as AWS names it
 * (`Arguments/FunctionName`, `Output`); the engine records it in an EvaluationFailed event.
 */
export class QueryEvaluationError extends StatesError {
  constructor(
    readonly location: string,
    cause: string,
  ) {
    super('States.QueryEvaluationError', cause);
  }
}
