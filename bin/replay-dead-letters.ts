#!/usr/bin/env node
/**
 * Replays the events in the rule's dead-letter queue into the state machine, one
 * execution per event, deleting each message only after its execution started.
 *   npm run replay-dead-letters -- [--stack S3FargatePipeline] [--dry-run]
 */
import { parseArgs } from 'node:util';

import { EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';

import { type DeadLetter, replayDeadLetters } from '../shared/dead-letter-replay';
import { STACK_NAME } from '../shared/stack-name';
import { exitWithError, readStackOutputs, requireOutput } from './stack-outputs';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stack: { type: 'string', default: STACK_NAME } } });
  const stackName = values.stack as string;
  const outputs = await readStackOutputs(stackName);
  const queueUrl = requireOutput(outputs, 'DeadLetterQueueUrl', stackName);
  const stateMachineArn = requireOutput(outputs, 'StateMachineArn', stackName);
  const ruleName = requireOutput(outputs, 'RuleName', stackName);

  const targets = await new EventBridgeClient({}).send(new ListTargetsByRuleCommand({ Rule: ruleName }));
  const target = targets.Targets?.find((t) => t.Arn === stateMachineArn);
  if (!target) throw new Error(`rule "${ruleName}" has no target ${stateMachineArn}: redeploy the stack`);

  const sqs = new SQSClient({});
  const sfn = new SFNClient({});
  const receipts = new Map<string, string>();
  const report = await replayDeadLetters({
    target: {
      Input: target.Input,
      InputPath: target.InputPath,
      InputTransformer: target.InputTransformer && {
        InputPathsMap: target.InputTransformer.InputPathsMap,
        InputTemplate: target.InputTransformer.InputTemplate ?? '',
      },
    },
    source: {
      async receive(max) {
        // A message that failed stays invisible for the visibility timeout, so one run
        // sees each message once and ends when the queue has nothing visible left.
        const response = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: max,
            WaitTimeSeconds: 1,
            VisibilityTimeout: 300,
          }),
        );
        return (response.Messages ?? []).map((m): DeadLetter => {
          receipts.set(m.MessageId ?? '', m.ReceiptHandle ?? '');
          return { id: m.MessageId ?? '', body: m.Body ?? '' };
        });
      },
      async delete(letter) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipts.get(letter.id) }),
        );
      },
    },
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
    onProgress: (o) =>
      console.log(
        o.error ? `kept     ${o.letterId}: ${o.error}` : `replayed ${o.letterId} -> ${o.executionId}`,
      ),
  });
  console.log(`${report.replayed.length} replayed, ${report.kept.length} kept in the queue`);
  if (report.kept.length > 0) process.exitCode = 1;
}

main().catch(exitWithError);
