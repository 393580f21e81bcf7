import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { acknowledgeWildcardResource } from './nag-acknowledgements';
import { ProcessObjectStep, ProcessObjectStepProps } from './process-object-step';

export interface ProcessObjectWorkflowProps extends ProcessObjectStepProps {
  readonly logRetention: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The Standard state machine that one "Object Created" event starts: it runs the
 * worker task for that object (`ecs:runTask.sync`) and fails, naming the object, if the
 * task cannot be started or the worker exits non-zero. Every event, with execution
 * data, is logged; X-Ray tracing is on.
 */
export class ProcessObjectWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly step: ProcessObjectStep;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ProcessObjectWorkflowProps) {
    super(scope, id);
    this.step = new ProcessObjectStep(this, 'ProcessObject', props);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: 'Runs the worker Fargate task for one S3 object',
      definitionBody: sfn.DefinitionBody.fromChainable(this.step.startState),
      // A backstop above the task's own timeout, for time spent in launch retries.
      timeout: props.taskTimeout.plus(Duration.minutes(30)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    acknowledgeWildcardResource(
      this.stateMachine.role,
      '*',
      'ecs:StopTask/DescribeTasks name tasks that do not exist before the run, and X-Ray and CloudWatch Logs delivery APIs take no resource; every other statement is scoped.',
    );
  }
}
