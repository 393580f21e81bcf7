#!/usr/bin/env node
/**
 * Replays the rule's dead-letter queue into the state machine: `npm run replay-dead-letters -- --help`.
 * The command is shared/commands/replay-dead-letters.ts; set AWS_ENDPOINT_URL to run it against `npm start`'s endpoint.
 */
import { runFromCommandLine } from '../shared/commands/command';
import { replayCommand } from '../shared/commands/replay-dead-letters';

runFromCommandLine(replayCommand);
