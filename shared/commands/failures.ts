/**
 * `npm run failures`: lists the failed, timed-out and aborted executions of both workflows (the
 * event-driven one and the backfill's per-object children) that stopped in the window: one line
 * each, then a count per error.
 */
import { parseArgs } from 'node:util';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { countsLine, errorCounts, failureLine, failureReport } from '../failed-executions';
import { OBJECT_RECORDS_TABLE_OUTPUT } from '../object-record';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine } from './command';
import { configuredEndpoint, listFailures, parseSince, stepFunctionsClient } from './execution-history';
import { listRecordedFailures } from './recorded-failures';
import { readStackOutputs, requireOutput } from './stack-outputs';

export const FAILURES_USAGE = `Usage: npm run failures -- [--since 24h|<ISO date>] [--stack NAME] [--json]

Lists the executions of both workflows (the event-driven one, and each backfill's per-object
executions) that FAILED, TIMED_OUT or were ABORTED in the window: the time, the object key, the
error, the cause in one line (exit code, stop code, stopped reason), the execution ARN and its
console URL; then a count per error. A failure already restarted by \`npm run redrive\` is not listed
(its new execution is, if that failed too). A stack that keeps object records is read from its
records table's failure index; one without, from each execution's history. With AWS_ENDPOINT_URL
set (e.g. to the endpoint \`npm start\` prints), it lists the local pipeline's, without console URLs.

Options:
  --since <when>   how far back: a duration (90m, 24h, 7d) or an ISO 8601 date (default 24h);
                   an execution counts when it stopped in the window
  --stack <name>   the deployed stack to read the state machines from (default ${STACK_NAME})
  --json           print {"failures": [...], "counts": {error: n}} instead of lines
  -h, --help       show this help`;

export const FAILURES_OPTIONS = {
  since: { type: 'string', default: '24h' },
  stack: { type: 'string', default: STACK_NAME },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function failures(
  argv: readonly string[],
  print: (line: string) => void,
  aws: AwsClientSettings = {},
): Promise<number> {
  const { values } = parsedCommandLine(() => parseArgs({ args: [...argv], options: FAILURES_OPTIONS }));
  if (values.help) {
    print(FAILURES_USAGE);
    return 0;
  }
  const since = parseSince(values.since);
  const outputs = await readStackOutputs(values.stack, '--failures', aws);
  const sfn = stepFunctionsClient(aws);
  const dynamodb = new DynamoDBClient(aws);
  try {
    const query = {
      workflowArn: requireOutput(outputs, 'StateMachineArn', values.stack),
      backfillArn: requireOutput(outputs, 'BackfillStateMachineArn', values.stack),
      since,
    };
    const tableName = outputs[OBJECT_RECORDS_TABLE_OUTPUT];
    const found = tableName
      ? await listRecordedFailures(sfn, dynamodb, {
          ...query,
          tableName,
          bucket: requireOutput(outputs, 'BucketName', values.stack),
        })
      : await listFailures(sfn, query);
    const consoleUrls = !(await configuredEndpoint(sfn));
    const reports = found.map((failure) => failureReport(failure, { console: consoleUrls }));
    if (values.json) {
      const document = { since: since.toISOString(), failures: reports, counts: errorCounts(reports) };
      print(JSON.stringify(document, null, 2));
    } else {
      for (const report of reports) print(failureLine(report));
      print(`${countsLine(reports)} since ${since.toISOString()}`);
    }
    return 0;
  } finally {
    sfn.destroy();
    dynamodb.destroy();
  }
}
