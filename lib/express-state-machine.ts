import { Validations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { acknowledgeWildcardResource } from './nag-acknowledgements';
import { stateMachineLogGroup, type StateMachineLogProps } from './traced-state-machine';

/** Why an Express state machine logs errors only, is not traced, and where its `*` resources come from. */
export interface ExpressAcknowledgements {
  readonly logging: string;
  readonly tracing: string;
  readonly wildcard: string;
}

const GATE_HOUSEKEEPING: ExpressAcknowledgements = {
  logging:
    'The launch gate housekeeping runs every minute: its failures are logged with their data; logging every event would cost more than the gate itself.',
  tracing:
    'The launch gate housekeeping runs every minute and calls only DynamoDB, Step Functions and CloudWatch: traces would add cost and nothing to follow.',
  wildcard:
    'states:SendTaskSuccess takes no resource (the task token names the task), nor do X-Ray and CloudWatch Logs delivery; cloudwatch:PutMetricData is limited to the gate namespace by condition.',
};

/**
 * An Express state machine for housekeeping that runs often (no waiting, no callbacks): errors only
 * are logged, and it is not traced, because at one run a minute (the gate's) or one per object (the
 * recorder's) full logs and traces would cost more than the work itself (docs/launch-gate.md "Cost").
 */
export function createExpressStateMachine(
  scope: Construct,
  props: StateMachineLogProps & {
    comment: string;
    definition: sfn.IChainable;
    /** @default JSONPath */
    queryLanguage?: sfn.QueryLanguage;
    /** @default - the launch gate housekeeping's reasons */
    acknowledgements?: ExpressAcknowledgements;
  },
): { stateMachine: sfn.StateMachine; logGroup: logs.LogGroup } {
  const reasons = props.acknowledgements ?? GATE_HOUSEKEEPING;
  const logGroup = stateMachineLogGroup(scope, props);
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineType: sfn.StateMachineType.EXPRESS,
    queryLanguage: props.queryLanguage ?? sfn.QueryLanguage.JSON_PATH,
    comment: props.comment,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: true },
  });
  Validations.of(stateMachine).acknowledge(
    {
      id: 'AwsSolutions-SF1',
      reason: reasons.logging,
    },
    {
      id: 'AwsSolutions-SF2',
      reason: reasons.tracing,
    },
  );
  acknowledgeWildcardResource(stateMachine.role, '*', reasons.wildcard);
  return { stateMachine, logGroup };
}
