/**
 * `npm run replay-dead-letters`: replays the events in the rule's dead-letter queue into the state
 * machine, one execution per event, deleting each message only after its execution started.
 */
import { parseArgs } from 'node:util';

import { EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';

import { replayDeadLetters, type ReplayOutcome, sqsDeadLetterSource } from '../dead-letter-replay';
import { STACK_NAME } from '../stack-name';
import { type AwsClientSettings, parsedCommandLine } from './command';
import { readStackOutputs, requireOutput } from './stack-outputs';

export const REPLAY_USAGE = `Usage: npm run replay-dead-letters -- [--dry-run] [--stack NAME] [--json]

Starts one execution of the event-driven workflow per event in the rule's dead-letter queue, with
the input the rule would have given it, named replay-<event id> (so a second replay of an event is a
no-op), and deletes each message once its execution started. Exits 1 if any message stays.

Options:
  --dry-run            print each execution's name and input; start nothing, delete nothing
  --stack <name>       the deployed stack to read the queue, rule and state machine from (default ${STACK_NAME})
  --json               print {"replayed": [{letterId, executionId}], "kept": [{letterId, error}]}
                       (with --dry-run, each replayed one's input too) instead of lines
  -h, --help           show this help`;

export const REPLAY_OPTIONS = {
  'dry-run': { type: 'boolean', default: false },
  stack: { type: 'string', default: STACK_NAME },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function replayCommand(
  argv: readonly string[],
  print: (line: string) => void,
  aws: AwsClientSettings = {},
): Promise<number> {
  const { values } = parsedCommandLine(() => parseArgs({ args: [...argv], options: REPLAY_OPTIONS }));
  if (values.help) {
    print(REPLAY_USAGE);
    return 0;
  }
  const dryRun = values['dry-run'];
  const stackName = values.stack;
  const outputs = await readStackOutputs(stackName, '--replay-dead-letters', aws);
  const queueUrl = requireOutput(outputs, 'DeadLetterQueueUrl', stackName);
  const stateMachineArn = requireOutput(outputs, 'StateMachineArn', stackName);
  const ruleName = requireOutput(outputs, 'RuleName', stackName);

  const events = new EventBridgeClient(aws);
  const sqs = new SQSClient(aws);
  const sfn = new SFNClient(aws);
  try {
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: ruleName }));
    const target = targets.Targets?.find((t) => t.Arn === stateMachineArn);
    if (!target) throw new Error(`rule "${ruleName}" has no target ${stateMachineArn}: redeploy the stack`);

    const source = sqsDeadLetterSource(sqs, queueUrl);
    const report = await replayDeadLetters({
      dryRun,
      target: {
        Input: target.Input,
        InputPath: target.InputPath,
        InputTransformer: target.InputTransformer && {
          InputPathsMap: target.InputTransformer.InputPathsMap,
          InputTemplate: target.InputTransformer.InputTemplate ?? '',
        },
      },
      source,
      async startExecution(input, name) {
        try {
          const started = await sfn.send(
            new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
          );
          return started.executionArn ?? name;
        } catch (err) {
          // Replayed before and the message not deleted (e.g. a crash in between).
          if (err instanceof ExecutionAlreadyExists) return `${name} (already started)`;
          throw err;
        }
      },
      onProgress: (outcome) => {
        if (!values.json) print(progressLine(outcome, dryRun));
      },
    });
    // Receiving hid every message for the visibility timeout; a dry run leaves the queue as it was.
    if (dryRun) await source.release();
    if (values.json) {
      print(JSON.stringify({ dryRun, replayed: report.replayed, kept: report.kept }, null, 2));
    } else if (dryRun) {
      print(
        `${report.replayed.length} would be replayed, ${report.kept.length} would stay in the queue (dry run: nothing changed)`,
      );
    } else {
      print(`${report.replayed.length} replayed, ${report.kept.length} kept in the queue`);
    }
    return report.kept.length > 0 ? 1 : 0;
  } finally {
    for (const client of [events, sqs, sfn]) client.destroy();
  }
}

function progressLine(outcome: ReplayOutcome, dryRun: boolean): string {
  if (outcome.error) return `kept     ${outcome.letterId}: ${outcome.error}`;
  if (dryRun)
    return `would replay ${outcome.letterId} -> ${outcome.executionId} ${JSON.stringify(outcome.input)}`;
  return `replayed ${outcome.letterId} -> ${outcome.executionId}`;
}
