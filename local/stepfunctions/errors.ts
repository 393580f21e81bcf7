/** The errors Step Functions raises, named as AWS names them (Retry and Catch match on `name`). */

/** An error as Step Functions reports it for a failed service integration: matched by `name`. */
export class StatesError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** Step Functions' error for a second StartExecution with the same name (and another input). */
export class ExecutionAlreadyExists extends Error {
  constructor(name: string) {
    super(`Execution ${name} already exists; execution names are unique per state machine`);
    this.name = 'ExecutionAlreadyExists';
  }
}
