import { Validations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { acknowledgeWildcardResource } from './nag-acknowledgements';
import { stateMachineLogGroup, type StateMachineLogProps } from './traced-state-machine';

/**
 * An Express state machine for the gate's housekeeping (no waiting, no callbacks): errors only are
 * logged, and it is not traced, because at one run a minute full logs and traces would cost more than
 * the whole gate (docs/launch-gate.md "Cost").
 */
export function createExpressStateMachine(
  scope: Construct,
  props: StateMachineLogProps & { comment: string; definition: sfn.IChainable },
): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup } {
  const logGroup = stateMachineLogGroup(scope, props);
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.EXPRESS,
    queryLanguage: sfn.QueryLanguage.JSON_PATH,
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: true },
  });
  Validations.of(stateMachine).acknowledge(
    {
      id: 'AwsSolutions-SF1',
      reason:
        'The launch gate housekeeping runs every minute: its failures are logged with their data; logging every event would cost more than the gate itself.',
    },
    {
      id: 'AwsSolutions-SF2',
      reason:
        'The launch gate housekeeping runs every minute and calls only DynamoDB, Step Functions and CloudWatch: traces would add cost and nothing to follow.',
    },
  );
  acknowledgeWildcardResource(
    stateMachine.role,
    '*',
    'states:SendTaskSuccess takes no resource (the task token names the task), nor do X-Ray and CloudWatch Logs delivery; cloudwatch:PutMetricData is limited to the gate namespace by condition.',
  );
  return { stateMachine, logGroup };
}
