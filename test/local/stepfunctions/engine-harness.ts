import { VirtualClock } from '../../../local/clock';
import { ExecutionHistory } from '../../../local/stepfunctions/asl/history';
import type { Json } from '../../../local/stepfunctions/asl/paths';
import type { StateMachineDefinition } from '../../../local/stepfunctions/definitions';
import {
  type EngineOptions,
  LocalStateMachine,
  type RunOptions,
  type TaskHandler,
} from '../../../local/stepfunctions/state-machine';
import { TaskTokens } from '../../../local/stepfunctions/task-tokens';

/** The engine on a virtual clock (at `startMs`), one history, and a run on it: what the engine's tests share. */

export const ECS = 'arn:aws:states:::ecs:runTask.sync';

/** A machine whose StartAt is its first state. */
export const machine = (States: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  ({ StartAt: Object.keys(States)[0], States, ...more }) as unknown as StateMachineDefinition;

export function engine(
  definition: StateMachineDefinition,
  options: Partial<Pick<EngineOptions, 'random' | 'type' | 'services'>> & {
    startMs?: number;
    clock?: VirtualClock;
  } = {},
) {
  const { startMs = 0, clock = new VirtualClock(startMs), ...engineOptions } = options;
  const local = new LocalStateMachine(definition, { clock, tokens: new TaskTokens(clock), ...engineOptions });
  const history = new ExecutionHistory(clock);
  const run = (input: Json, runTask?: TaskHandler, more: Partial<RunOptions> = {}) =>
    local.run(input, {
      identity: {
        executionArn: 'arn:aws:states:us-east-1:0:execution:M:e',
        name: 'e',
        stateMachineArn: 'arn:aws:states:us-east-1:0:stateMachine:M',
        startTime: new Date(startMs).toISOString(),
      },
      history,
      runTask,
      ...more,
    });
  return { clock, history, run };
}

/** Runs to the end on the virtual clock; returns the outcome and when it came. */
export async function settle<T>(clock: VirtualClock, running: Promise<T>): Promise<T & { at: number }> {
  let done = false;
  running.then(
    () => (done = true),
    () => (done = true),
  );
  await clock.runAll();
  if (!done) throw new Error('the run is not waiting on the clock, and has not ended');
  return { ...(await running), at: clock.now() };
}
