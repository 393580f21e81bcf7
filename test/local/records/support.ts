import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { endpointEnvironment } from '../../../local/cli/banner';
import type { LocalPipeline } from '../../../local/pipeline';
import { readStackOutputs } from '../../../shared/commands/stack-outputs';
import {
  OBJECT_RECORDS_TABLE_OUTPUT,
  type ObjectRecord,
  RESULT_EVENT_SOURCE,
} from '../../../shared/object-record';
import { findRecords } from '../../../shared/object-records';
import { STACK_NAME } from '../../../shared/stack-name';
import { type CommandResult, runNpmScript } from '../../support/project-commands';

/**
 * What a user of the deployed pipeline has, on the local one: the records table read with the SDK
 * through the endpoint, a consumer's rule on the result events (the README's sample) delivering to
 * a queue of its own, and the project's commands run as child processes with AWS_ENDPOINT_URL set.
 */

export const CONSUMER_QUEUE_OUTPUT = 'ResultEventsQueueUrl';

/**
 * The synthesized template plus what a downstream consumer deploys beside the stack: a rule on the
 * pipeline's result events and its queue. Written next to `templatePath`'s copy in `dir`.
 */
export function templateWithResultConsumer(templatePath: string, dir: string): string {
  const template = JSON.parse(readFileSync(templatePath, 'utf8'));
  template.Resources.ResultEventsQueue = { Type: 'AWS::SQS::Queue', Properties: {} };
  template.Resources.ResultEventsRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      EventPattern: { source: [RESULT_EVENT_SOURCE], 'detail-type': ['Object Processed', 'Object Failed'] },
      Targets: [{ Id: 'consumer', Arn: { 'Fn::GetAtt': ['ResultEventsQueue', 'Arn'] } }],
    },
  };
  template.Outputs[CONSUMER_QUEUE_OUTPUT] = { Value: { Ref: 'ResultEventsQueue' } };
  const path = join(dir, `${STACK_NAME}.template.json`);
  writeFileSync(path, JSON.stringify(template));
  return path;
}

export interface ResultEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown>;
}

/** The pipeline seen from outside, through its endpoint, with the clients a user has. */
export class PipelineClient {
  private readonly documents: DynamoDBDocumentClient;
  private readonly sqs: SQSClient;
  readonly environment: Record<string, string>;

  private constructor(
    readonly pipeline: LocalPipeline,
    private readonly outputs: Record<string, string>,
  ) {
    this.environment = endpointEnvironment(pipeline.endpoint);
    const clientConfig = {
      endpoint: pipeline.endpoint,
      region: this.environment.AWS_REGION,
      credentials: {
        accessKeyId: this.environment.AWS_ACCESS_KEY_ID,
        secretAccessKey: this.environment.AWS_SECRET_ACCESS_KEY,
      },
    };
    this.documents = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig));
    this.sqs = new SQSClient(clientConfig);
  }

  /** Reads the stack's outputs from the local CloudFormation, as the commands do. */
  static async of(pipeline: LocalPipeline): Promise<PipelineClient> {
    const saved = { ...process.env };
    Object.assign(process.env, endpointEnvironment(pipeline.endpoint));
    try {
      return new PipelineClient(pipeline, await readStackOutputs(STACK_NAME, '(local)'));
    } finally {
      process.env = saved;
    }
  }

  /** Every record of `key` (a key's versions, or the keys under a prefix). */
  async records(key: string): Promise<readonly ObjectRecord[]> {
    const table = this.outputs[OBJECT_RECORDS_TABLE_OUTPUT];
    return (await findRecords(this.documents, table, { bucket: this.pipeline.bucket, key })).records;
  }

  /** The result events the consumer's queue got since the last call. */
  async resultEvents(): Promise<ResultEvent[]> {
    const QueueUrl = this.outputs[CONSUMER_QUEUE_OUTPUT];
    const events: ResultEvent[] = [];
    for (;;) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return events;
      for (const message of Messages) {
        events.push(JSON.parse(message.Body ?? '{}') as ResultEvent);
        await this.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
  }

  /** A project command (`npm run <script>`) against the endpoint. */
  command(script: 'redrive' | 'status', args: readonly string[]): Promise<CommandResult> {
    return runNpmScript(script, args, { ...process.env, ...this.environment });
  }

  destroy(): void {
    this.documents.destroy();
    this.sqs.destroy();
  }
}

/** The tasks the executions launched that ran (got a task ARN). */
export function tasksRun(pipeline: LocalPipeline): number {
  return pipeline.executions().reduce((sum, e) => sum + e.attempts.filter((a) => a.taskArn).length, 0);
}
