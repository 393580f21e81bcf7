import { STATUS_USAGE } from '../../shared/commands/status';
import { runWithoutAws } from '../support/command-without-aws';

/**
 * `npm run status` as npm runs it, on a machine with no AWS configuration at all (the real SDK, no
 * network reached): what it refuses before reading anything, and what it says without AWS. What it
 * reads and prints is tested against the local endpoint (test/local/records/records.test.ts).
 */

const run = (args: readonly string[], env: Record<string, string> = {}) => runWithoutAws('status', args, env);

test.each([
  [
    [],
    'error: no object given: pass an object key or a key prefix, e.g. npm run status -- incoming/report.csv',
  ],
  [
    ['incoming/a.csv', 'incoming/b.csv'],
    'error: one key or prefix at a time (got "incoming/a.csv", "incoming/b.csv"): pass their common prefix, or run the command once per key',
  ],
  [['--stak', 'X', 'incoming/a.csv'], "error: Unknown option '--stak'; see --help"],
])('%j is refused in one line before anything is read, exit 2', (args, line) => {
  const { status, stdout, stderr } = run(args);
  expect([status, stdout, stderr]).toEqual([2, '', `${line}\n`]);
});

test('without AWS it says what it needs and how to reach the local pipeline, in one line, exit 2', () => {
  const { status, stderr } = run(['incoming/a.csv']);
  expect(stderr).toBe(
    'error: this command reads the deployed stack "S3FargatePipeline" with your AWS credentials, and no AWS region is set: ' +
      'set AWS_REGION and AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the account the stack ' +
      'is deployed in (npx cdk deploy), or pass --stack; for the local pipeline run npm start -- --port 4566 (it keeps running) ' +
      'and set AWS_ENDPOINT_URL=http://127.0.0.1:4566 with the credentials it prints\n',
  );
  expect(status).toBe(2);
});

test('--help prints the usage, exit 0', () => {
  const { status, stdout } = run(['--help']);
  expect(stdout).toBe(`${STATUS_USAGE}\n`);
  expect(status).toBe(0);
});
