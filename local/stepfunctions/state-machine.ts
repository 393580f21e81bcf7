// aws-local-stepfunctions 3 declares Node >= 22 and calls Promise.withResolvers, which Node 20 (the
// oldest runtime this project supports) lacks; the polyfill must load before the library runs.
import 'core-js/actual/promise/with-resolvers';

import { performance } from 'node:perf_hooks';

import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from 'aws-local-stepfunctions';

import { isPlainObject } from '../cloudformation/intrinsics';
import { type AslState, forEachState, type StateMachineDefinition } from './definitions';
import { type LocalServices, type TaskIntegration, taskIntegration } from './integrations';
import { TaskTokens } from './task-tokens';

/**
 * Runs the synthesized state machine definition with aws-local-stepfunctions. Two adaptations, both
 * kept out of the retry policy's substance (errors, attempts, backoff rate, jitter stay as deployed):
 * - Retry intervals are scaled (IntervalSeconds and MaxDelaySeconds times `retryIntervalScale`), so
 *   a 5 s, 10 s, 20 s... backoff runs in 50 ms, 100 ms, 200 ms... The library's own
 *   retryIntervalOverrides would replace the backoff with a constant pause, hence the scaling.
 * - Task states without TimeoutSeconds: the library applies 60 s where Step Functions applies no
 *   limit, so such states get the longest timeout a Node timer can hold. An execution TimeoutSeconds
 *   beyond that (24.8 days; a long capacityWaitMinutes gives one) would fire at once, so it is
 *   clamped to it: no local run lasts that long.
 * Every Task state is served locally (./integrations: the local ECS, DynamoDB, SQS, task tokens).
 * The library has no task tokens, so a `.waitForTaskToken` state runs locally without its Parameters
 * and TimeoutSeconds: its handler issues a token (./task-tokens.ts), evaluates the deployed
 * Parameters itself with `$$.Task.Token` in the context object, sends the request, and waits for
 * SendTaskSuccess/SendTaskFailure or the deployed TimeoutSeconds. Tokens still waiting when the
 * execution ends are closed (a later SendTaskSuccess fails with TaskTimedOut, as on AWS).
 * And one workaround: the library evaluates a Fail state's ErrorPath/CausePath only as a JSONPath,
 * so an intrinsic function there (`States.Format(...)`, which the deployed definition uses) fails the
 * execution with States.Runtime. The intended error and cause are then computed by the library's
 * own intrinsic-function support (a one-state Pass machine) from the Fail state's input.
 */

/** The cause of an execution that ran past its own TimeoutSeconds (status TIMED_OUT on AWS). */
export const EXECUTION_TIMEOUT_CAUSE = 'The execution exceeded its TimeoutSeconds';

export interface ExecutionOutcome {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

/** Serves a task state: gets its effective Parameters, returns its result or throws a named error. */
export type TaskHandler = (stateName: string, parameters: unknown, state: AslState) => Promise<unknown>;

export interface LocalStateMachineOptions {
  /** @default 0.01 */
  readonly retryIntervalScale?: number;
  /** What serves the Task states other than `ecs:runTask.sync`. @default - none: only ECS states run */
  readonly services?: LocalServices;
}

/** The execution a run belongs to, for the context object (`$$.Execution`). */
export interface RunContext {
  readonly executionArn?: string;
  readonly name?: string;
  /** Called when a `.waitForTaskToken` state's wait ended (answered, failed or timed out). */
  readonly onTokenWait?: (stateName: string, waitedMs: number) => void;
}

/** How a `.waitForTaskToken` state runs locally: its deployed Parameters and TimeoutSeconds. */
interface TokenWait {
  readonly parameters: (input: unknown, context: Record<string, unknown>) => Promise<unknown>;
  readonly timeoutSeconds?: number;
}

interface ServedState {
  readonly state: AslState;
  readonly integration: TaskIntegration;
  readonly tokenWait?: TokenWait;
}

/** Node's setTimeout holds at most 2^31 - 1 ms; longer delays fire at once. */
const LONGEST_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export class LocalStateMachine {
  private readonly machine: StateMachine;
  readonly definition: StateMachineDefinition;
  readonly tokens: TaskTokens;
  /** Every Task state, at any depth, with what serves it. */
  private readonly served = new Map<string, ServedState>();

  constructor(
    readonly deployedDefinition: StateMachineDefinition,
    options: LocalStateMachineOptions = {},
  ) {
    this.definition = localDefinition(deployedDefinition, options.retryIntervalScale ?? 0.01);
    this.tokens = options.services?.tokens ?? new TaskTokens();
    const services = { ...options.services, tokens: this.tokens };
    forEachState(this.definition, (state, name) => {
      if (state.Type !== 'Task') return;
      const integration = taskIntegration(name, state, services);
      let tokenWait: TokenWait | undefined;
      if (integration.kind === 'service' && integration.waitForTaskToken) {
        const deployed = findState(deployedDefinition, name);
        tokenWait = {
          parameters: compilePayloadTemplate(isPlainObject(state.Parameters) ? state.Parameters : {}),
          timeoutSeconds: typeof deployed?.TimeoutSeconds === 'number' ? deployed.TimeoutSeconds : undefined,
        };
        // The handler evaluates them (with the token) and keeps the time: the library can do neither.
        delete state.Parameters;
        state.TimeoutSeconds = LONGEST_TIMEOUT_SECONDS;
      }
      this.served.set(name, { state, integration, tokenWait });
    });
    // Validation (asl-validator) is left on: the definition must be valid ASL, as on AWS.
    this.machine = new StateMachine(this.definition as never);
  }

  async run(input: unknown, runTask: TaskHandler, context: RunContext = {}): Promise<ExecutionOutcome> {
    const issued = new Set<string>();
    const handlers = Object.fromEntries(
      [...this.served].map(([name, served]) => [
        name,
        (parameters: unknown) =>
          this.serve(name, served, parameters, runTask, context, issued) as Promise<never>,
      ]),
    );
    const execution = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers },
      // `$$.Execution.Id`: the launch gate keys its records by it.
      context: { Execution: { Id: context.executionArn, Name: context.name } } as never,
    });
    try {
      return { status: 'SUCCEEDED', output: await execution.result };
    } catch (error) {
      return this.failure(error, execution.eventLogs);
    } finally {
      for (const token of issued) this.tokens.close(token);
    }
  }

  private async serve(
    name: string,
    { state, integration, tokenWait }: ServedState,
    parameters: unknown,
    runTask: TaskHandler,
    context: RunContext,
    issued: Set<string>,
  ): Promise<unknown> {
    if (integration.kind === 'ecs') return runTask(name, parameters, state);
    if (!tokenWait) return integration.call(parameters);
    // `parameters` is the state's input here (its Parameters were taken out of the local definition).
    const token = this.tokens.issue();
    issued.add(token);
    try {
      const request = await tokenWait.parameters(parameters, {
        Execution: { Id: context.executionArn, Name: context.name },
        State: { Name: name, EnteredTime: new Date().toISOString() },
        Task: { Token: token },
      });
      await integration.call(request);
    } catch (error) {
      this.tokens.close(token);
      throw error;
    }
    const waitStarted = performance.now();
    try {
      return await this.tokens.wait(token, tokenWait.timeoutSeconds);
    } finally {
      context.onTokenWait?.(name, Math.round(performance.now() - waitStarted));
    }
  }

  private async failure(error: unknown, eventLogs: AsyncGenerator<unknown>): Promise<ExecutionOutcome> {
    if (error instanceof ExecutionTimeoutError) {
      return {
        status: 'FAILED',
        error: 'States.Timeout',
        cause: EXECUTION_TIMEOUT_CAUSE,
      };
    }
    if (error instanceof ExecutionAbortedError)
      return { status: 'FAILED', error: 'States.Aborted', cause: '' };
    if (!(error instanceof ExecutionError)) throw error;
    const inner = error.cause as Error;
    if (inner.name === 'States.Runtime') {
      const intended = await this.intrinsicFailState(eventLogs);
      if (intended) return intended;
    }
    return { status: 'FAILED', error: inner.name, cause: inner.message };
  }

  /** The Fail state's error and cause, if the execution died evaluating its intrinsic ErrorPath/CausePath. */
  private async intrinsicFailState(
    eventLogs: AsyncGenerator<unknown>,
  ): Promise<ExecutionOutcome | undefined> {
    let lastFailed: { name: string; type: string; input: unknown } | undefined;
    // The logger is closed once the execution failed, so this loop ends after the buffered events.
    for await (const event of eventLogs) {
      if (isPlainObject(event) && event.type === 'StateFailed' && isPlainObject(event.state)) {
        lastFailed = event.state as typeof lastFailed;
      }
    }
    if (!lastFailed || lastFailed.type !== 'Fail') return undefined;
    const state = findState(this.definition, lastFailed.name);
    const paths = { 'error.$': state?.ErrorPath, 'cause.$': state?.CausePath };
    const usesIntrinsic = Object.values(paths).some((p) => typeof p === 'string' && !p.startsWith('$'));
    if (!state || !usesIntrinsic) return undefined;
    const parameters = Object.fromEntries(
      Object.entries(paths).filter(([, path]) => typeof path === 'string'),
    );
    const values = (await compilePayloadTemplate(parameters)(lastFailed.input)) as {
      error?: string;
      cause?: string;
    };
    return {
      status: 'FAILED',
      error: values.error ?? (state.Error as string | undefined),
      cause: values.cause ?? (state.Cause as string | undefined),
    };
  }
}

/**
 * A payload template (`Parameters`, `ItemSelector`: keys ending in `.$` take a path or an intrinsic
 * function), compiled into a function of the state input and the context object `$$`. Evaluated by
 * aws-local-stepfunctions itself, as a one-state Pass machine, so paths and intrinsics behave as in
 * the executions it runs.
 */
export function compilePayloadTemplate(
  template: Record<string, unknown>,
): (input: unknown, context?: Record<string, unknown>) => Promise<unknown> {
  // JSON round trips: the library skips objects of another realm (see localDefinition).
  const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value ?? null)) as T;
  const evaluator = new StateMachine({
    StartAt: 'Evaluate',
    States: { Evaluate: { Type: 'Pass', Parameters: copy(template), End: true } },
  } as never);
  return (input, context) =>
    evaluator.run(copy(input) as never, { context: context && (copy(context) as never) }).result;
}

/** The definition as run locally: scaled retry intervals, explicit task timeouts. Does not mutate. */
export function localDefinition(
  definition: StateMachineDefinition,
  retryIntervalScale: number,
): StateMachineDefinition {
  // Not structuredClone: under Jest it returns objects of the outer realm, whose prototype is not the
  // realm's Object.prototype, and aws-local-stepfunctions then skips them as "not plain objects".
  const copy = JSON.parse(JSON.stringify(definition)) as StateMachineDefinition;
  if (typeof copy.TimeoutSeconds === 'number') {
    copy.TimeoutSeconds = Math.min(copy.TimeoutSeconds, LONGEST_TIMEOUT_SECONDS);
  }
  forEachState(copy, (state) => {
    if (Array.isArray(state.Retry)) {
      for (const retrier of state.Retry as Array<Record<string, unknown>>) {
        retrier.IntervalSeconds = ((retrier.IntervalSeconds as number | undefined) ?? 1) * retryIntervalScale;
        if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= retryIntervalScale;
      }
    }
    if (
      state.Type === 'Task' &&
      state.TimeoutSeconds === undefined &&
      state.TimeoutSecondsPath === undefined
    ) {
      state.TimeoutSeconds = LONGEST_TIMEOUT_SECONDS;
    }
  });
  return copy;
}

/** A state by name, in the definition or a nested machine (a Map's ItemProcessor, a Parallel branch). */
function findState(definition: StateMachineDefinition, name: string): AslState | undefined {
  let found: AslState | undefined;
  forEachState(definition, (state, stateName) => {
    if (stateName === name) found ??= state;
  });
  return found;
}
