/** An error as an AWS SDK integration reports it: `<Service>.<Exception>`. */
export class ServiceError extends Error {
  constructor(
    name: string,
    readonly cause: string,
  ) {
    super(cause);
    this.name = name;
  }
}
