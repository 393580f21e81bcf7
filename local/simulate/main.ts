import { parseArgs } from 'node:util';

import { contextPair, UsageError, vcpuQuota, wholeNumber } from '../cli/args';
import { synthesize } from '../cloudformation/synth';
import { formatResult, gateFaultsOf, simulateTemplate } from './planner';

/**
 * `npm run simulate [-- options]`: a capacity planner. It synthesizes the app (with the same `-c`
 * context as `cdk synth`), reads the event-driven workflow and its task definition from the template,
 * and runs a burst of uploads through them in virtual time against Fargate's quotas.
 */

const USAGE = `Usage: npm run simulate -- [options]

Runs a burst of uploads through the synthesized workflow (its own Retry and Catch, its launch gate's
DynamoDB records and task tokens) against Fargate's quotas (the same model as the local ECS: vCPU per
capacity type, 100 launches then 20/s, RunTask 20/s), in virtual time, and prints what it took and cost.

Options:
  --objects <n>            objects uploaded (default 10000)
  --arrival-seconds <s>    uploads spread evenly over s seconds; 0 = all at once (default 60)
  --vcpu-quota <n>         Fargate On-Demand vCPU quota (default 6, a new account's); the launch gate's
                           slots are the template's (-c fargateVcpuQuota)
  --spot-vcpu-quota <n>    Fargate Spot vCPU quota (default 6)
  --task-seconds <s>       mean task time, Fargate's start included (default 60)
  --task-spread <cv>       spread of task times, log-normal coefficient of variation (default 0.3; 0 = fixed)
  -c, --context <k=v>      CDK context for the synth, repeatable (e.g. -c capacity=spot-with-fallback)
  --template <file>        simulate this synthesized template instead of running \`cdk synth\`
  --stop-rate <r>          share of objects whose execution is stopped (StopExecution) while it holds a
                           launch slot, from 0 to 1 (default 0); stopped objects are not failures
  --lost-answer-rate <r>   share of the launch gate's calls whose answer is lost (default 0): half of
                           them before the call took effect, half after (npm start's --gate-fault
                           lost-before and lost-after)
  --missed-event-rate <r>  share of "Step Functions Execution Status Change" events never delivered to
                           the gate's cleanup rule (default 0)
  --seed <n>               random seed (default 1): the same seed gives the same run, faults included
  --json                   print one JSON object
  -h, --help               show this help`;

function parseSimulateArgs(argv: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        objects: { type: 'string' },
        'arrival-seconds': { type: 'string' },
        'vcpu-quota': { type: 'string' },
        'spot-vcpu-quota': { type: 'string' },
        'task-seconds': { type: 'string' },
        'task-spread': { type: 'string' },
        context: { type: 'string', short: 'c', multiple: true },
        template: { type: 'string' },
        seed: { type: 'string' },
        'stop-rate': { type: 'string' },
        'lost-answer-rate': { type: 'string' },
        'missed-event-rate': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split(/\.\s/)[0]}; see --help`);
  }
  const { values } = parsed;
  const taskSpread = Number(values['task-spread'] ?? 0.3);
  if (!(taskSpread >= 0 && taskSpread <= 5)) {
    throw new UsageError(
      `--task-spread ${JSON.stringify(values['task-spread'])} is not valid: use a number from 0 (fixed) to 5, e.g. 0.3`,
    );
  }
  return {
    help: values.help,
    json: values.json,
    template: values.template,
    context: Object.fromEntries((values.context ?? []).map(contextPair)),
    objects: wholeNumber('--objects', values.objects, 10000, 1, 10_000_000),
    arrivalSeconds: wholeNumber('--arrival-seconds', values['arrival-seconds'], 60, 0, 30 * 24 * 3600),
    vcpuQuota: vcpuQuota('--vcpu-quota', values['vcpu-quota']),
    spotVcpuQuota: vcpuQuota('--spot-vcpu-quota', values['spot-vcpu-quota']),
    taskSeconds: wholeNumber('--task-seconds', values['task-seconds'], 60, 1, 7 * 24 * 3600),
    taskSpread,
    seed: wholeNumber('--seed', values.seed, 1, 0, 2 ** 32 - 1),
    stopRate: rate('--stop-rate', values['stop-rate']),
    gateFaults: gateFaultsOf(
      rate('--lost-answer-rate', values['lost-answer-rate']),
      rate('--missed-event-rate', values['missed-event-rate']),
    ),
  };
}

/** A share from 0 to 1, e.g. `0.01`; 0 when not given. */
function rate(option: string, raw: string | undefined): number {
  const value = raw === undefined ? 0 : Number(raw);
  if (raw?.trim() === '' || !(value >= 0 && value <= 1)) {
    throw new UsageError(`${option} ${JSON.stringify(raw)} is not valid: use a share from 0 to 1, e.g. 0.01`);
  }
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseSimulateArgs(argv);
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const templatePath =
    options.template ?? (await synthesize({ outDir: '.local/simulate-cdk.out', context: options.context }));
  const result = await simulateTemplate({ ...options, templatePath });
  console.log(options.json ? JSON.stringify(result) : formatResult(result));
  return result.failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known =
      error instanceof Error &&
      ['UsageError', 'GateFaultError', 'SynthError', 'TemplateError', 'UnsupportedWorkflowError'].includes(
        error.name,
      );
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (!known && process.env.DEBUG) console.error(error);
    process.exit(known && ['UsageError', 'GateFaultError'].includes(error.name) ? 2 : 1);
  },
);
