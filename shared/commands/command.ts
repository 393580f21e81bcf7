/**
 * The project's AWS commands (`npm run failures`, `redrive`, `replay-dead-letters`, `backfill`), one
 * function each: its bin/ entry point runs it against AWS, and `npm start -- --failures` (etc.) runs
 * the same function against the local endpoint, so both print the same lines and exit the same way.
 */

/**
 * Where a command's clients send their requests. Empty on AWS: the SDK reads the region, the
 * credentials and AWS_ENDPOINT_URL from the environment as usual; `npm start` passes its endpoint.
 */
export interface AwsClientSettings {
  /** @default - AWS_ENDPOINT_URL if set, otherwise each service's AWS endpoint */
  readonly endpoint?: string;
  /** @default - AWS_REGION / the profile's region */
  readonly region?: string;
  /** @default - the SDK's credential chain */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** A command: its arguments (without the command's name), where it prints, and its exit code. */
export type AwsCommand = (
  argv: readonly string[],
  print: (line: string) => void,
  aws?: AwsClientSettings,
) => Promise<number>;

/** A bad command line: one line naming the argument and the fix, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the machine lacks to reach the deployed stack (no region, no credentials, no such stack): exit 2. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}

/**
 * The command line parsed by `parse` (parseArgs), with its refusals ("Unknown option '--x'",
 * "Unexpected argument 'y'") as a UsageError that points at --help.
 */
export function parsedCommandLine<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('. ')[0]}; see --help`);
  }
}

/** Prints the problem in one line (operators want the problem, not a stack trace) and returns the exit code. */
export function exitCodeOf(error: unknown, printError: (line: string) => void): number {
  printError(`error: ${error instanceof Error ? error.message : String(error)}`);
  const name = error instanceof Error ? error.name : '';
  return name === 'UsageError' || name === 'SetupError' ? 2 : 1;
}

/** A bin/ entry point: the command on this process's arguments, against AWS as the environment says. */
export function runFromCommandLine(command: AwsCommand): void {
  command(process.argv.slice(2), console.log).then(
    (code) => process.exit(code),
    (error: unknown) => process.exit(exitCodeOf(error, console.error)),
  );
}
