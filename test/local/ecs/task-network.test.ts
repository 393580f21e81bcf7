import { type CfnTemplate, deployLocally, readTemplateFile } from '../../../local/cloudformation/template';
import { loadTaskDefinitions } from '../../../local/ecs/task-definitions';
import type { RunTaskParameters } from '../../../local/ecs/task-description';
import { TaskNetwork } from '../../../local/ecs/task-network';
import { LocalEcsTaskRunner } from '../../../local/ecs/task-runner';
import { StatesError } from '../../../local/stepfunctions/errors';
import { synthesizedTemplate } from '../support/synthesized-template';

// Fargate gives a task a public IP only when RunTask asks for one: since the public subnets stopped
// assigning public IPs on launch (CT.EC2.PR.11), nothing else would. The local ECS reads the same
// RunTask parameters as ECS and refuses to start a task that could not pull its image on AWS.

const REGION = 'us-east-1';
const PRIVATE = { network: 'private', image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:test' };

type Parameters = RunTaskParameters & {
  NetworkConfiguration: { AwsvpcConfiguration: { Subnets: string[]; AssignPublicIp?: string } };
};

/** Every RunTask state's Parameters, in every state machine and Map of the template, resolved locally. */
function runTaskParameters(template: CfnTemplate, resolve: (value: unknown) => unknown): Parameters[] {
  const found: Parameters[] = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const state of Object.values(states)) {
      if (String(state.Resource).endsWith(':ecs:runTask.sync')) found.push(state.Parameters as Parameters);
      const processor = state.ItemProcessor as { States: typeof states } | undefined;
      if (processor) visit(processor.States);
    }
  };
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    visit(JSON.parse(resolve(resource.Properties?.DefinitionString) as string).States);
  }
  return found;
}

/** GIVEN the template `cdk synth` makes with `context`, deployed locally (less `drop`'s resources). */
async function deployed(context: Record<string, string>, drop: (type: string) => boolean = () => false) {
  const full = readTemplateFile(await synthesizedTemplate(context));
  const template = {
    ...full,
    Resources: Object.fromEntries(Object.entries(full.Resources).filter(([, r]) => !drop(r.Type))),
  };
  const deployment = deployLocally(template, { region: REGION });
  const parameters = runTaskParameters(template, deployment.resolve);
  expect(parameters.length).toBeGreaterThan(0);
  return { deployment, network: TaskNetwork.fromDeployment(deployment), parameters };
}

const withPublicIp = (parameters: Parameters, AssignPublicIp: string | undefined): Parameters => ({
  ...parameters,
  NetworkConfiguration: {
    AwsvpcConfiguration: { ...parameters.NetworkConfiguration.AwsvpcConfiguration, AssignPublicIp },
  },
});

describe('TaskNetwork', () => {
  test('public (default): every RunTask asks for a public IP, so every task can pull its image', async () => {
    const { network, parameters } = await deployed({});
    for (const p of parameters) {
      expect(p.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('ENABLED');
      expect(network.pullProblem(p)).toBeUndefined();
    }
  });

  test.each([[undefined], ['DISABLED']])(
    'public: a RunTask with AssignPublicIp %s could not reach ECR (the subnets give no public IP)',
    async (assign) => {
      const { network, parameters } = await deployed({});
      expect(network.pullProblem(withPublicIp(parameters[0], assign))).toMatch(
        /^ResourceInitializationError: unable to pull secrets or registry auth: .* \(subnets \S+, \S+, AssignPublicIp DISABLED\)$/,
      );
    },
  );

  test('private: no public IP, and the tasks pull through the interface endpoints', async () => {
    const { network, parameters } = await deployed(PRIVATE);
    for (const p of parameters) {
      expect(p.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBeUndefined();
      expect(network.pullProblem(p)).toBeUndefined();
    }
  });

  test('private without its interface endpoints: a task could not pull', async () => {
    const { network, parameters } = await deployed(PRIVATE, (type) => type === 'AWS::EC2::VPCEndpoint');
    expect(network.pullProblem(parameters[0])).toMatch(/^ResourceInitializationError/);
  });

  test("subnets the template does not define (an existing VPC's) are their owner's: not judged", async () => {
    const { network, parameters } = await deployed({});
    const elsewhere = withPublicIp(parameters[0], undefined);
    elsewhere.NetworkConfiguration.AwsvpcConfiguration.Subnets = ['subnet-0123456789abcdef0'];
    expect(network.pullProblem(elsewhere)).toBeUndefined();
  });

  test('the local ECS stops such a task before it starts: States.TaskFailed, StopCode TaskFailedToStart', async () => {
    const { deployment, network, parameters } = await deployed({});
    const runner = new LocalEcsTaskRunner({
      taskDefinitions: loadTaskDefinitions(deployment),
      command: [process.execPath, '-e', 'process.exit(0)'],
      baseEnvironment: {},
      partition: 'aws',
      region: REGION,
      accountId: deployment.accountId,
      network,
    });
    const launch = { ...withPublicIp(parameters[0], undefined), Overrides: undefined };
    const failure = await runner.run({ stateName: 'Run', parameters: launch }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StatesError);
    const { name, message } = failure as StatesError;
    expect(name).toBe('States.TaskFailed');
    expect(JSON.parse(message)).toMatchObject({
      StopCode: 'TaskFailedToStart',
      StoppedReason: expect.stringMatching(/^ResourceInitializationError/),
    });
  });
});
