import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { ProcessObjectStep, ProcessObjectStepProps } from './process-object-step';
import { createTracedStateMachine, StateMachineLogProps } from './traced-state-machine';

export interface WorkflowProps extends ProcessObjectStepProps, StateMachineLogProps {}

/**
 * The state machine that one "Object Created" event starts: it runs the worker task
 * for that object (`ecs:runTask.sync`) and fails, naming the object, if the task cannot
 * be started or the worker exits non-zero.
 */
export class Workflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly step: ProcessObjectStep;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    this.step = new ProcessObjectStep(this, 'ProcessObjectStep', props);
    ({ stateMachine: this.stateMachine, logGroup: this.logGroup } = createTracedStateMachine(this, {
      comment: 'Runs the worker Fargate task for one S3 object',
      definition: this.step.startState,
      timeout: this.step.longestRun,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      logEncryptionKey: props.logEncryptionKey,
    }));
  }
}
