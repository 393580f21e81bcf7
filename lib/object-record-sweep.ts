import { Duration } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

import { OPEN_INDEX } from '../shared/object-record';
import { createExpressStateMachine } from './express-state-machine';
import { GATE_CALL_TIMEOUT, GATE_RETRY } from './launch-gate';
import { executionArnsOf } from './launch-gate-reconciler';
import { acknowledgeWildcardResource } from './nag-acknowledgements';
import type { ObjectRecords } from './object-records';
import type { StateMachineLogProps } from './traced-state-machine';

/**
 * How often the sweep runs: the longest a record stays open after its execution ended when the
 * status-change event was lost. 2,880 Express runs a month: under a cent.
 */
export const SWEEP_PERIOD = Duration.minutes(15);
/** A record younger than this is not looked at: its execution has barely started, or its event is on its way. */
export const SWEEP_MIN_AGE = Duration.minutes(15);
/** The oldest open records one run looks at (one DescribeExecution each). */
export const RECORDS_PER_SWEEP = 50;

export interface ObjectRecordSweepProps extends StateMachineLogProps {
  readonly records: ObjectRecords;
  /** The bucket whose records are swept (the partition the sweep reads). */
  readonly bucketName: string;
  /** The per-object state machines (the backfill's children included): what DescribeExecution may read. */
  readonly stateMachines: sfn.StateMachine[];
  /** The recorder: started with the same detail a status-change event carries. */
  readonly recorder: sfn.IStateMachine;
}

/**
 * Repairs a record whose ending the recorder never heard of (status-change events are best-effort),
 * with no manual step: every SWEEP_PERIOD an Express state machine reads the RECORDS_PER_SWEEP oldest
 * open records (the sparse OPEN_INDEX) older than SWEEP_MIN_AGE, asks DescribeExecution about each
 * one's execution, and for each that has ended starts the recorder with the detail its status-change
 * event would have carried. The recorder's write is conditional, so a repair of an ending it did
 * record changes nothing. Behind a backlog of more open records than one run reads (a burst
 * waiting for capacity), a lost ending is repaired once the older ones end.
 */
export class ObjectRecordSweep extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  public readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: ObjectRecordSweepProps) {
    super(scope, id);
    const findOpen = tasks.CallAwsService.jsonata(this, 'FindOpenRecords', {
      comment: 'The oldest open records: their executions may have ended unheard.',
      service: 'dynamodb',
      action: 'query',
      parameters: {
        TableName: props.records.table.tableName,
        IndexName: OPEN_INDEX,
        KeyConditionExpression: '#bucket = :bucket AND #openSince < :before',
        ExpressionAttributeNames: { '#bucket': 'bucket', '#openSince': 'openSince' },
        ExpressionAttributeValues: {
          ':bucket': { S: props.bucketName },
          ':before': { S: `{% $fromMillis($millis() - ${SWEEP_MIN_AGE.toMilliseconds()}) %}` },
        },
        Limit: RECORDS_PER_SWEEP,
      },
      iamAction: 'dynamodb:Query',
      iamResources: [`${props.records.table.tableArn}/index/${OPEN_INDEX}`],
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
      outputs: '{% $states.result.Items %}',
    });
    findOpen.addRetry(GATE_RETRY);

    const checked = sfn.Succeed.jsonata(this, 'RecordChecked');
    const describe = tasks.CallAwsService.jsonata(this, 'DescribeRecordedExecution', {
      service: 'sfn',
      action: 'describeExecution',
      parameters: { ExecutionArn: '{% $states.input.executionArn.S %}' },
      iamAction: 'states:DescribeExecution',
      iamResources: props.stateMachines.flatMap((machine) => executionArnsOf(this, machine)),
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });
    describe.addRetry({ errors: ['Sfn.ExecutionDoesNotExistException'], maxAttempts: 0 });
    describe.addRetry(GATE_RETRY);
    describe.addCatch(checked, { errors: ['States.ALL'] });
    // DescribeExecution's dates as the event has them: epoch milliseconds.
    const millis = (date: string) =>
      `($type(${date}) = 'number' ? $round(${date} < 100000000000 ? ${date} * 1000 : ${date}) : $toMillis(${date}))`;
    const record = tasks.StepFunctionsStartExecution.jsonata(this, 'RecordEnding', {
      comment: 'Starts the recorder as the lost status-change event would have.',
      stateMachine: props.recorder,
      input: sfn.TaskInput.fromText(`{% (
        $x := $states.input;
        {
          'source': 'aws.states',
          'detail-type': 'Step Functions Execution Status Change',
          'detail': {
            'executionArn': $x.ExecutionArn,
            'stateMachineArn': $x.StateMachineArn,
            'status': $x.Status,
            'input': $x.Input,
            'output': $x.Output,
            'error': $x.Error,
            'cause': $x.Cause,
            'startDate': ${millis('$x.StartDate')},
            'stopDate': ${millis('$x.StopDate')}
          }
        }
      ) %}`),
      taskTimeout: sfn.Timeout.duration(GATE_CALL_TIMEOUT),
    });
    record.addRetry(GATE_RETRY);
    record.addCatch(checked, { errors: ['States.ALL'] });
    record.next(checked);
    describe.next(
      sfn.Choice.jsonata(this, 'HasExecutionEnded')
        .when(sfn.Condition.jsonata("{% $states.input.Status != 'RUNNING' %}"), record)
        .otherwise(checked),
    );
    const sweep = sfn.Map.jsonata(this, 'CheckOpenRecords', { maxConcurrency: 5, outputs: '{% {} %}' });
    sweep.itemProcessor(describe);
    findOpen.next(sweep);

    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createExpressStateMachine(this, {
      ...props,
      queryLanguage: sfn.QueryLanguage.JSONATA,
      comment:
        'Every 15 minutes: records the ending of executions whose status-change event never reached the recorder',
      definition: findOpen,
      acknowledgements: {
        logging:
          'The record sweep runs every 15 minutes: its failures are logged with their data; logging every event would cost more than the sweep itself.',
        tracing:
          'The record sweep runs every 15 minutes and calls only DynamoDB and Step Functions: traces would add cost and nothing to follow.',
        wildcard: 'X-Ray and CloudWatch Logs delivery take no resource.',
      },
    }));
    for (const machine of props.stateMachines) {
      for (const arn of executionArnsOf(this, machine)) {
        acknowledgeWildcardResource(
          this.stateMachine.role,
          arn,
          "DescribeExecution on the executions (and Distributed Map child executions) of the pipeline's per-object state machines, whose names exist only at run time.",
        );
      }
    }

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Records the endings of executions whose status-change event was lost',
      schedule: scheduler.ScheduleExpression.rate(SWEEP_PERIOD),
      // A run that could not start is replaced by the next one a period later.
      target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, { retryAttempts: 0 }),
    });
  }
}
