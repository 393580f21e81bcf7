/**
 * `npm run status`: what happened to an object: its records (every version), or those of every key
 * under a prefix, read from the stack's records table (shared/object-records.ts).
 */
import { parseArgs } from 'node:util';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import type { OBJECT_RECORDS_TABLE_OUTPUT } from '../object-record';
import { findRecords, recordQuery, recordReport, recordsTable } from '../object-records';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine, UsageError } from './command';
import { readStackOutputs, requireOutput } from './stack-outputs';

export const STATUS_USAGE = `Usage: npm run status -- <key | prefix | s3://bucket/key> [--json] [--stack NAME]

Shows the record of each version of an object: its status (QUEUED, WAITING_FOR_CAPACITY, RUNNING,
SUCCEEDED or FAILED), attempts, when it was received, started and ended, the seconds it waited for
capacity, launched and ran, its result location or its error and exit code, and the executions that
processed it. A key with no records is taken as a prefix: every key under it is shown. Exits 1 when
nothing is found (records expire; objects outside the input prefix have none).

Against the local pipeline: run \`npm start\` and set AWS_ENDPOINT_URL (and the credentials) it prints.

Options:
  --json           print {"bucket", "match": "key" | "prefix", "records": [...]} instead of a table
  --stack <name>   the deployed stack to read the records table from (default ${STACK_NAME})
  -h, --help       show this help`;

export async function status(
  argv: readonly string[],
  print: (line: string) => void,
  aws: AwsClientSettings = {},
): Promise<number> {
  const { values, positionals } = parseStatusArgs(argv);
  if (values.help) {
    print(STATUS_USAGE);
    return 0;
  }
  const stackName = values.stack;
  const outputs = await readStackOutputs(
    stackName,
    '--port 4566 (it keeps running) and set AWS_ENDPOINT_URL=http://127.0.0.1:4566 with the credentials it prints',
    aws,
  );
  const query = recordQuery(positionals[0], {
    bucket: requireOutput(outputs, 'BucketName', stackName),
    // Not requireOutput: an empty input prefix (the whole bucket) is a valid one.
    inputPrefix: outputs.InputPrefix ?? '',
  });
  // The key as a literal: test/lib/pipeline-stack.test.ts checks every one a command reads is an output.
  const tableName = requireOutput(
    outputs,
    'ObjectRecordsTableName' satisfies typeof OBJECT_RECORDS_TABLE_OUTPUT,
    stackName,
  );
  const client = DynamoDBDocumentClient.from(new DynamoDBClient(aws));
  const found = await findRecords(client, tableName, query);
  const reports = found.records.map(recordReport);
  if (values.json) {
    print(JSON.stringify({ bucket: query.bucket, match: found.match, records: reports }, null, 2));
  } else if (reports.length > 0) {
    for (const line of recordsTable(reports)) print(line);
  }
  if (reports.length === 0) {
    console.error(
      `no records of s3://${query.bucket}/${query.key} (as a key or a prefix): records expire, and only objects under the input prefix have them`,
    );
    return 1;
  }
  return 0;
}

/** One key or prefix and the options; anything else is a usage error (exit 2). */
function parseStatusArgs(argv: readonly string[]) {
  const parsed = parsedCommandLine(() =>
    parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        stack: { type: 'string', default: STACK_NAME },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
  if (!parsed.values.help && parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? 'no object given: pass an object key or a key prefix, e.g. npm run status -- incoming/report.csv'
        : `one key or prefix at a time (got ${parsed.positionals.map((p) => JSON.stringify(p)).join(', ')}): ` +
            'pass their common prefix, or run the command once per key',
    );
  }
  return parsed;
}
