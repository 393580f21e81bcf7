#!/usr/bin/env node
/**
 * Lists the failed executions of the deployed stack: `npm run failures -- --help`.
 * The command is shared/commands/failures.ts; set AWS_ENDPOINT_URL to run it against `npm start`'s endpoint.
 */
import { runFromCommandLine } from '../shared/commands/command';
import { failures } from '../shared/commands/failures';

runFromCommandLine(failures);
