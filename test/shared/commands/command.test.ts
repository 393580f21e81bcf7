import { type AwsCommand, exitCodeOf, UsageError } from '../../../shared/commands/command';
import { failures } from '../../../shared/commands/failures';
import { redrive } from '../../../shared/commands/redrive';
import { replayCommand } from '../../../shared/commands/replay-dead-letters';
import { startBackfill } from '../../../shared/commands/start-backfill';
import { FakeStepFunctions } from './support/step-functions';

/**
 * Bad arguments to the AWS commands: refused before any call, as a UsageError whose one line names
 * the input and the fix, which the entry points (and npm start's aliases) turn into exit code 2.
 * test/bin/local-endpoint.test.ts runs one of them as a process.
 */

let aws: FakeStepFunctions;
beforeEach(() => {
  aws = new FakeStepFunctions();
  aws.outputs({ InputPrefix: 'incoming/' });
});
afterEach(() => aws.restore());

test.each<[string, AwsCommand, string[], string]>([
  [
    'backfill',
    startBackfill,
    ['a/', 'b/'],
    'expected at most one sub-prefix, got "a/", "b/": pass one, e.g. 2024/',
  ],
  ['backfill', startBackfill, ['/abs/'], 'sub-prefix "/abs/" starts with "/": S3 keys have no leading slash'],
  [
    'failures',
    failures,
    ['--since', 'yesterday'],
    '--since "yesterday" is not a duration or a date: use e.g. 90m, 24h, 7d or 2026-11-30T12:00:00Z',
  ],
  ['redrive', redrive, ['--frobnicate'], "Unknown option '--frobnicate'; see --help"],
  ['redrive', redrive, ['--since'], "Option '--since <value>' argument missing; see --help"],
  ['replay-dead-letters', replayCommand, ['extra'], "Unexpected argument 'extra'; see --help"],
])('npm run %s -- %j is refused in one line, exit 2', async (_name, command, argv, message) => {
  const printed: string[] = [];
  const error = await command(argv, (line) => printed.push(line)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  expect((error as Error).message).toBe(message);
  const errors: string[] = [];
  expect(exitCodeOf(error, (line) => errors.push(line))).toBe(2);
  expect(errors).toEqual([`error: ${message}`]);
  expect(printed).toEqual([]);
  // nothing was asked of AWS for a refused command line (a sub-prefix needs the stack's InputPrefix)
  if (command !== startBackfill || argv[0] !== '/abs/') expect(aws.cloudFormation.calls()).toEqual([]);
  expect(aws.sfn.calls()).toEqual([]);
});

test('any other failure is exit 1, in one line', () => {
  const errors: string[] = [];
  expect(exitCodeOf(new Error('Rate exceeded'), (line) => errors.push(line))).toBe(1);
  expect(errors).toEqual(['error: Rate exceeded']);
});
