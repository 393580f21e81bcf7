import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import { queueEncryption } from './encryption';

/**
 * Why a gate at all: Fargate runs 24 tasks of 0.25 vCPU at once on a default account, and S3 can
 * upload thousands of objects a minute. Executions that each retry RunTask on their own either call
 * it far above the account's 20 calls/s or leave freed capacity idle between their backoffs. The
 * gate counts the tasks the pipeline holds, and an execution that finds every slot taken waits in
 * line with its task token (no state transitions while it waits) until a finishing one hands its
 * slot on.
 *
 * The count, `demand`, is every execution that claimed (holders and those in line). Claiming adds
 * one; the first `slots` hold a slot, the rest wait. Releasing subtracts one; if the count is still
 * `slots` or more, somebody is in line, and the releaser wakes the message the queue gives it (about
 * the oldest: a standard queue keeps order on a best-effort basis) with SendTaskSuccess, handing it
 * the slot. A message whose execution stopped waiting (its wait timed
 * out, or it was stopped) fails SendTaskSuccess: the releaser deletes it and subtracts one for it,
 * then looks again. An empty queue after a long poll (an execution counted but whose message never
 * came) counts the same way. What this count does not survive (an execution stopped while it
 * holds a slot, the hand-on failing past its retries, a message seen twice) is in README "Bursts
 * and quotas", with the reset.
 */

/** The one item whose `demand` attribute counts the executions that claimed a slot. */
export const LAUNCH_SLOTS_KEY = 'launch-slots';
/** How long a releaser long-polls the line for a message its count says is there. */
export const RECEIVE_WAIT_SECONDS = 20;
/**
 * Each of the gate's service calls; a call that hangs past it fails and is retried like any failure.
 * Longer than the 20-second long poll.
 */
export const GATE_CALL_TIMEOUT = Duration.seconds(30);
/**
 * The hand-on's calls (receive, SendTaskSuccess, delete) retry any failure for about two minutes:
 * giving up strands a waiter (its slot is never handed on) or counts one out twice, so an outage
 * shorter than that costs nothing. 6 retries, 2 s doubling: 126 s of delays at most.
 */
export const HAND_ON_RETRY: sfn.RetryProps = {
  errors: ['States.ALL'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
};
/**
 * SendTaskSuccess on a token whose task is no longer waiting. Step Functions names an AWS SDK
 * integration's errors `<Service>.<Exception>`.
 */
export const STALE_TOKEN_ERRORS = [
  'Sfn.TaskTimedOutException',
  'Sfn.InvalidTokenException',
  'Sfn.TaskDoesNotExistException',
];
/** DynamoDB's throttling: the update was not applied, so retrying it cannot count twice. */
export const COUNTER_THROTTLING_ERRORS = [
  'DynamoDB.ProvisionedThroughputExceededException',
  // DynamoDB's API names it without "Exception"; Step Functions' optimized integration may append it.
  'DynamoDB.RequestLimitExceeded',
  'DynamoDB.RequestLimitExceededException',
  'DynamoDB.ThrottlingException',
];

export interface LaunchGateProps {
  /**
   * How many worker tasks may run at once: the Fargate vCPU quota the pipeline may fill, divided
   * by one task's vCPU.
   */
  readonly slots: number;
  /**
   * Encrypts the table and the line.
   * @default - DynamoDB's AWS owned key and SSE-SQS
   */
  readonly encryptionKey?: kms.IKey;
}

/** The slot count and the line; the states that use them are made per state machine by `gateStates`. */
export class LaunchGate extends Construct {
  public readonly table: dynamodb.Table;
  public readonly queue: sqs.Queue;
  public readonly slots: number;

  constructor(scope: Construct, id: string, props: LaunchGateProps) {
    super(scope, id);
    if (!Number.isInteger(props.slots) || props.slots < 1) {
      throw new Error(
        `LaunchGate slots ${props.slots} is not a whole number of at least 1: raise fargateVcpuQuota to at least one task's vCPU`,
      );
    }
    this.slots = props.slots;
    this.table = new dynamodb.Table(this, 'Slots', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey && {
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.encryptionKey,
      }),
      // A count of running executions: nothing to keep once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new sqs.Queue(this, 'Line', {
      ...queueEncryption(props.encryptionKey),
      enforceSSL: true,
      // A token waits at most capacityWaitMinutes (7 days at most); the queue keeps it longest.
      retentionPeriod: Duration.days(14),
      // While a releaser hands a message on (SendTaskSuccess, then DeleteMessage), no other may
      // receive it: a second one would find the token answered, take it for stale and count it
      // out twice. 15 minutes covers both calls at their worst (7 attempts of 30 s and 126 s of
      // delays each: 672 s); a releaser that died returns the message to the line after it.
      visibilityTimeout: Duration.minutes(15),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'The line holds task tokens: every message is received and deleted by the gate, one whose execution stopped waiting is deleted as stale; a dead-letter queue would only hold expired tokens.',
    });
  }
}

export interface GateStates {
  /** Claims a slot, or waits in line for one, then goes to `onSlot`. */
  readonly claim: sfn.State;
  /** Gives the slot back (or hands it on), then goes to `done`. */
  readonly release: sfn.State;
}

/**
 * The gate's states, in `scope` (one set per state machine: state names are per machine). `onSlot`
 * runs holding a slot; `failedBeforeSlot` is where a claim that could not complete goes (with the
 * error under `$.error`); `done` comes after the release, whatever the task's outcome.
 */
export function gateStates(
  scope: Construct,
  gate: LaunchGate,
  targets: {
    onSlot: sfn.IChainable;
    failedBeforeSlot: sfn.IChainable;
    done: sfn.IChainable;
    capacityWait: Duration;
  },
): GateStates {
  const count = (id: string, by: number, comment: string) =>
    new tasks.DynamoUpdateItem(scope, id, {
      comment,
      table: gate.table,
      key: { id: tasks.DynamoAttributeValue.fromString(LAUNCH_SLOTS_KEY) },
      updateExpression: 'ADD demand :change',
      expressionAttributeValues: { ':change': tasks.DynamoAttributeValue.fromNumber(by) },
      returnValues: tasks.DynamoReturnValues.UPDATED_NEW,
      resultSelector: { 'demand.$': 'States.StringToJson($.Attributes.demand.N)' },
      resultPath: '$.launchSlot',
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    }).addRetry({
      errors: COUNTER_THROTTLING_ERRORS,
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 8,
      jitterStrategy: sfn.JitterType.FULL,
    });

  const waitInLine = new tasks.SqsSendMessage(scope, 'WaitForLaunchSlot', {
    comment: `Every slot is taken: waits in line (no state transitions) until a finishing execution hands this one its slot, for at most capacityWaitMinutes.`,
    queue: gate.queue,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    messageBody: sfn.TaskInput.fromJsonPathAt('$$.Task.Token'),
    taskTimeout: sfn.Timeout.duration(targets.capacityWait),
    resultPath: sfn.JsonPath.DISCARD,
  });
  waitInLine.addCatch(targets.failedBeforeSlot, { errors: ['States.ALL'], resultPath: '$.error' });
  waitInLine.next(targets.onSlot);

  const claim = count(
    'ClaimLaunchSlot',
    1,
    `Counts this execution in; the first ${gate.slots} hold a slot (the Fargate quota divided by one task's vCPU).`,
  );
  claim.addCatch(targets.failedBeforeSlot, { errors: ['States.ALL'], resultPath: '$.error' });
  claim.next(
    new sfn.Choice(scope, 'HasLaunchSlot')
      .when(sfn.Condition.numberLessThanEquals('$.launchSlot.demand', gate.slots), targets.onSlot)
      .otherwise(waitInLine),
  );

  const release = count(
    'ReleaseLaunchSlot',
    -1,
    'Counts one execution out: this one after its task, or one that stopped waiting in line.',
  );
  // A release that cannot complete loses a slot until the count is reset; the object's own outcome stands.
  release.addCatch(targets.done, { errors: ['States.ALL'], resultPath: '$.launchSlotError' });

  const receive = new tasks.CallAwsService(scope, 'FindWaitingExecution', {
    comment: `Long-polls the line for the execution the count says is waiting.`,
    service: 'sqs',
    action: 'receiveMessage',
    parameters: {
      QueueUrl: gate.queue.queueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: RECEIVE_WAIT_SECONDS,
    },
    iamResources: [gate.queue.queueArn],
    iamAction: 'sqs:ReceiveMessage',
    resultPath: '$.launchSlot.line',
    taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
  });
  receive.addRetry(HAND_ON_RETRY);
  receive.addCatch(targets.done, { errors: ['States.ALL'], resultPath: '$.launchSlotError' });

  const deleteMessage = (id: string) => {
    const task = new tasks.CallAwsService(scope, id, {
      service: 'sqs',
      action: 'deleteMessage',
      parameters: {
        QueueUrl: gate.queue.queueUrl,
        ReceiptHandle: sfn.JsonPath.stringAt('$.launchSlot.line.Messages[0].ReceiptHandle'),
      },
      iamResources: [gate.queue.queueArn],
      iamAction: 'sqs:DeleteMessage',
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });
    task.addRetry(HAND_ON_RETRY);
    return task;
  };
  const deleteWoken = deleteMessage('DeleteHandedOnMessage');
  deleteWoken.addCatch(targets.done, { errors: ['States.ALL'], resultPath: '$.launchSlotError' });
  deleteWoken.next(targets.done);
  const deleteStale = deleteMessage('DeleteStaleMessage');
  deleteStale.addCatch(release, { errors: ['States.ALL'], resultPath: '$.launchSlotError' });
  deleteStale.next(release);

  const wake = new tasks.CallAwsService(scope, 'HandOnLaunchSlot', {
    comment: 'Wakes the waiting execution: it runs in the slot this one held.',
    service: 'sfn',
    action: 'sendTaskSuccess',
    parameters: {
      TaskToken: sfn.JsonPath.stringAt('$.launchSlot.line.Messages[0].Body'),
      Output: '{}',
    },
    // SendTaskSuccess has no resource-level permissions: the token names the task.
    iamResources: ['*'],
    iamAction: 'states:SendTaskSuccess',
    resultPath: sfn.JsonPath.DISCARD,
    taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
  });
  // A stale token fails at once; anything else (throttling) is retried before the waiting
  // execution is given up on (deleted and counted out: it then waits until its own timeout).
  wake.addRetry({ errors: STALE_TOKEN_ERRORS, maxAttempts: 0 });
  wake.addRetry(HAND_ON_RETRY);
  wake.addCatch(deleteStale, { errors: ['States.ALL'], resultPath: '$.launchSlotError' });
  wake.next(deleteWoken);

  receive.next(
    new sfn.Choice(scope, 'WasExecutionWaiting')
      .when(sfn.Condition.isPresent('$.launchSlot.line.Messages[0]'), wake)
      .otherwise(release),
  );
  release.next(
    new sfn.Choice(scope, 'IsAnyoneWaiting')
      .when(sfn.Condition.numberGreaterThanEquals('$.launchSlot.demand', gate.slots), receive)
      .otherwise(targets.done),
  );
  return { claim, release };
}
