/** The errors of the local Step Functions, named as AWS names them. */
export { StatesError } from './asl/errors';

/** Step Functions' error for a second StartExecution with the same name (and another input), naming its ARN as AWS does. */
export class ExecutionAlreadyExists extends Error {
  constructor(executionArn: string) {
    super(`Execution Already Exists: '${executionArn}'`);
    this.name = 'ExecutionAlreadyExists';
  }
}
