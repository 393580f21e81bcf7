/** The errors of the local Step Functions, named as AWS names them. */
export { StatesError } from './asl/errors';

/** Step Functions' error for a second StartExecution with the same name (and another input). */
export class ExecutionAlreadyExists extends Error {
  constructor(name: string) {
    super(`Execution Already Exists: '${name}'`);
    this.name = 'ExecutionAlreadyExists';
  }
}
