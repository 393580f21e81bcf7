import type { Clock } from '../clock';
import { checkDefinition } from './asl/definition-check';
import { QueryEvaluationError, StatesError } from './asl/errors';
import { ExecutionHistory, type HistoryCursor } from './asl/history';
import { JsonataEvaluator } from './asl/jsonata';
import { JsonataState } from './asl/jsonata-states';
import { JsonPathState } from './asl/jsonpath-states';
import type { Json } from './asl/paths';
import { errorMatches, maxAttemptsOf, type Retrier, retryDelaySeconds } from './asl/retry';
import type { CatchRule, MapIo, StateFields, Step, TaskIo } from './asl/state-fields';
import { assignedVariables, VARIABLES, VariableScope } from './asl/variables';
import type { AslState, StateMachineDefinition } from './definitions';
import { type LocalServices, type TaskIntegration, taskIntegration } from './integrations';
import type { TaskTokens } from './task-tokens';

/**
 * The local Step Functions engine: runs an Amazon States Language definition as Step Functions
 * does, on a Clock, for `npm start` and the planner alike. Every state type (Task, Pass, Choice,
 * Wait, Succeed, Fail, Parallel, Map inline and distributed); in JSONPath InputPath, Parameters
 * (paths and intrinsic functions), ResultSelector, ResultPath, OutputPath; in JSONata (the machine's
 * or a state's QueryLanguage) Arguments, Output, Items, ItemSelector, Condition and `{% %}`
 * expressions in any field that takes one; workflow variables (Assign) in both; Retry (IntervalSeconds,
 * BackoffRate, MaxDelaySeconds, JitterStrategy FULL) and Catch (never for States.Runtime or
 * States.DataLimitExceeded); a Task's TimeoutSeconds and HeartbeatSeconds; the execution's own
 * TimeoutSeconds (TIMED_OUT); StopExecution (ABORTED: no Catch runs, running tasks are told through
 * their AbortSignal, open task tokens closed); the history AWS records. What a state does is written
 * here once; its fields are read in its query language by asl/jsonpath-states.ts or
 * asl/jsonata-states.ts.
 *
 * Why our own interpreter and not aws-local-stepfunctions: the library runs in real time only (its
 * waits and retries are timers of its own), has no task tokens, no Distributed Map, evaluates a Fail
 * state's ErrorPath/CausePath without intrinsics and records no AWS history, so each needed a
 * workaround; a planner of 10,000 executions needs a virtual clock. It stays as a test oracle.
 */

/**
 * Why a timer that is no longer needed is aborted: with a reason given, AbortController makes no
 * DOMException (with its stack trace), which at one per task call was among the planner's costliest
 * calls.
 */
const SETTLED = 'settled';

/** The largest input or output a state may have: 256 KiB. */
const MAX_PAYLOAD_BYTES = 262_144;

/** Why an execution ended early: StopExecution (ABORTED) or its TimeoutSeconds (TIMED_OUT). */
export class ExecutionStopped extends Error {
  constructor(
    readonly status: 'ABORTED' | 'TIMED_OUT',
    readonly error?: string,
    readonly cause?: string,
  ) {
    super(`Execution ${status}`);
    this.name = 'ExecutionStopped';
  }
}

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A state that failed the execution: a redrive runs it again with this input and these variables. */
export interface FailedState {
  readonly name: string;
  readonly input: Json;
  readonly variables?: Readonly<Record<string, Json>>;
}

export interface ExecutionOutcome {
  readonly status: ExecutionStatus;
  readonly output?: Json;
  readonly error?: string;
  readonly cause?: string;
  /** Where a redrive resumes: the state that failed, its input and the variables then (if any). */
  readonly failedState?: FailedState;
}

/** One Task state's call, as the engine hands an `ecs:runTask.sync` state to the local ECS. */
export interface TaskCall {
  readonly stateName: string;
  readonly state: AslState;
  readonly parameters: Json;
  /** Aborted when the state times out or the execution ends: the task is to be stopped. */
  readonly signal: AbortSignal;
  readonly timeoutSeconds?: number;
  /** To call once RunTask has answered (the task is launched), with its response: recorded as TaskSubmitted. */
  readonly onSubmitted: (response: Json) => void;
}

export type TaskHandler = (call: TaskCall) => Promise<Json>;

/** One Task state's call to a service other than ECS (DynamoDB, SQS, Step Functions...). */
export interface ServiceCall {
  readonly stateName: string;
  /** The state's Resource, e.g. `arn:aws:states:::aws-sdk:dynamodb:updateItem`. */
  readonly resource: string;
  readonly parameters: Json;
}

/** The execution a run belongs to: the context object's `$$.Execution` and `$$.StateMachine`. */
export interface ExecutionIdentity {
  readonly executionArn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly roleArn?: string;
  /** ISO 8601. */
  readonly startTime: string;
  readonly redriveCount?: number;
}

/** A Distributed Map's run: the engine hands it to the local Step Functions, which starts the children. */
export interface DistributedMapRun {
  readonly stateName: string;
  readonly state: AslState;
  /** The Map's effective input (after InputPath). */
  readonly input: Json;
  readonly context: Json;
  readonly processor: StateMachineDefinition;
  /** The children's type (ProcessorConfig.ExecutionType). */
  readonly childType: 'STANDARD' | 'EXPRESS';
  readonly signal: AbortSignal;
  /** Called once the Map Run exists, with its ARN (recorded as MapRunStarted). */
  readonly onStarted: (mapRunArn: string) => void;
  /** Called instead when a redrive of the execution redrives the state's failed Map Run (MapRunRedriven). */
  readonly onRedriven: (mapRunArn: string, redriveCount: number) => void;
}

export interface RunOptions {
  readonly identity: ExecutionIdentity;
  readonly history: ExecutionHistory;
  /** Serves `ecs:runTask.sync` states. */
  readonly runTask?: TaskHandler;
  /** StopExecution: abort with an ExecutionStopped. */
  readonly signal?: AbortSignal;
  /** RedriveExecution: resume at this state with this input (the execution timeout starts over). */
  readonly resumeAt?: FailedState;
  readonly distributedMap?: (run: DistributedMapRun) => Promise<Json>;
  /** Called when a `.waitForTaskToken` wait ended, with its length on the clock. */
  readonly onTokenWait?: (stateName: string, waitedMs: number) => void;
  /**
   * Every service call but ECS's passes through it: `send` makes the call (once per invocation) and
   * its answer or error is the state's (a `.waitForTaskToken` state then waits for its token).
   * @default - the call is made as it is
   */
  readonly callService?: (call: ServiceCall, send: () => Promise<Json>) => Promise<Json>;
}

export interface EngineOptions {
  readonly clock: Clock;
  readonly tokens: TaskTokens;
  /** What serves the Task states other than `ecs:runTask.sync`. @default - none */
  readonly services?: LocalServices;
  /** For FULL jitter. @default Math.random */
  readonly random?: () => number;
  /** @default 'STANDARD' */
  readonly type?: 'STANDARD' | 'EXPRESS';
  /** The region Task events name. @default 'us-east-1' */
  readonly region?: string;
  /** Where the definition comes from, for errors. @default 'State machine' */
  readonly where?: string;
}

/** What one run of a branch (the machine, a Map iteration, a Parallel branch) shares. */
interface Branch {
  readonly run: RunOptions;
  readonly signal: AbortSignal;
  readonly cursor: HistoryCursor;
  readonly tokens: Set<string>;
  /** Its variables: a Map iteration or Parallel branch has a scope of its own inside its parent's. */
  readonly scope: VariableScope;
  /** The machine's own branch only: the state it is in, where a redrive of a stopped execution resumes. */
  readonly current?: { name?: string; input?: Json };
}

export class LocalStateMachine {
  private readonly integrations = new Map<AslState, TaskIntegration>();
  private readonly jsonataStates = new Set<AslState>();
  private readonly jsonata: JsonataEvaluator;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(
    readonly definition: StateMachineDefinition,
    private readonly options: EngineOptions,
  ) {
    this.clock = options.clock;
    this.random = options.random ?? Math.random;
    this.jsonata = new JsonataEvaluator(this.clock, this.random);
    checkDefinition(definition, options.where ?? 'State machine', {
      type: options.type,
      compileJsonata: (text) => this.jsonata.compile(text),
      jsonataState: (_name, state) => this.jsonataStates.add(state),
      checkTask: (name, state) =>
        this.integrations.set(
          state,
          taskIntegration(name, state, { ...options.services, tokens: options.tokens, clock: options.clock }),
        ),
    });
  }

  async run(input: Json, options: RunOptions): Promise<ExecutionOutcome> {
    const controller = new AbortController();
    const onStop = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onStop();
    options.signal?.addEventListener('abort', onStop, { once: true });
    const timeoutSeconds = this.definition.TimeoutSeconds;
    const timer = typeof timeoutSeconds === 'number' ? new AbortController() : undefined;
    if (timer) {
      this.clock.sleep(Number(timeoutSeconds) * 1000, timer.signal).then(
        () =>
          controller.abort(new ExecutionStopped('TIMED_OUT', 'States.Timeout', 'The execution timed out')),
        () => undefined,
      );
    }
    const branch: Branch = {
      run: options,
      signal: controller.signal,
      cursor: options.history.cursor(),
      tokens: new Set(),
      scope: new VariableScope(),
      current: {},
    };
    if (options.resumeAt?.variables) branch.scope.assign(options.resumeAt.variables);
    const history = options.history;
    if (options.resumeAt) {
      history.add(branch.cursor, 'ExecutionRedriven', { redriveCount: options.identity.redriveCount ?? 1 });
    } else {
      history.add(branch.cursor, 'ExecutionStarted', () => ({
        input: JSON.stringify(input),
        inputDetails: { truncated: false },
        roleArn: options.identity.roleArn,
      }));
    }
    const start = options.resumeAt ?? { name: String(this.definition.StartAt), input };
    try {
      const output = await this.runStates(this.definition, start.name, start.input, branch, input);
      history.add(branch.cursor, 'ExecutionSucceeded', () => ({
        output: JSON.stringify(output),
        outputDetails: { truncated: false },
      }));
      return { status: 'SUCCEEDED', output };
    } catch (error) {
      const stopped = controller.signal.aborted ? controller.signal.reason : error;
      if (stopped instanceof ExecutionStopped) {
        const type = stopped.status === 'ABORTED' ? 'ExecutionAborted' : 'ExecutionTimedOut';
        history.add(branch.cursor, type, withoutUndefined({ error: stopped.error, cause: stopped.cause }));
        // A redrive resumes a stopped execution at the state it was in (which has no Exited event).
        const { name, input: stateInput } = branch.current!;
        return {
          status: stopped.status,
          error: stopped.error,
          cause: stopped.cause,
          failedState: name === undefined ? undefined : failedState(name, stateInput as Json, branch.scope),
        };
      }
      if (!(error instanceof FailedAt)) throw error;
      const { name, message: cause } = error.error;
      history.add(
        branch.cursor,
        'ExecutionFailed',
        withoutUndefined({ error: name || undefined, cause: cause || undefined }),
      );
      return {
        status: 'FAILED',
        error: name || undefined,
        cause: cause || undefined,
        failedState: error.state,
      };
    } finally {
      timer?.abort(SETTLED);
      options.signal?.removeEventListener('abort', onStop);
      for (const token of branch.tokens) this.options.tokens.close(token);
    }
  }

  /** Runs `machine` from `name` to its end; throws FailedAt for an error no Catch handled. */
  private async runStates(
    machine: StateMachineDefinition,
    startName: string,
    startInput: Json,
    branch: Branch,
    executionInput: Json,
  ): Promise<Json> {
    let name = startName;
    let input = startInput;
    // The JSON of `input` once the state before has written it as its output: written once, not twice.
    let inputText: string | undefined;
    for (;;) {
      if (branch.signal.aborted) throw branch.signal.reason;
      if (branch.run.history.full) {
        throw new FailedAt(
          new StatesError('States.Runtime', 'The execution reached the limit of 25,000 history events'),
          failedState(name, input, branch.scope),
        );
      }
      const state = machine.States[name];
      if (branch.current) {
        branch.current.name = name;
        branch.current.input = input;
      }
      const enteredTime = new Date(this.clock.now()).toISOString();
      const entry = { previous: branch.cursor.last, id: 0 };
      entry.id = branch.run.history.add(branch.cursor, `${state.Type}StateEntered`, () => ({
        name,
        input: inputText ?? JSON.stringify(input),
        inputDetails: { truncated: false },
      }));
      const context = this.contextObject(branch, executionInput, name, enteredTime);
      const fields: StateFields = this.jsonataStates.has(state)
        ? new JsonataState(name, state, input, context, branch.scope, this.jsonata, this.clock)
        : new JsonPathState(name, state, input, context, this.clock);
      let step: Step;
      try {
        step = await this.runState(name, state, fields, context, branch, executionInput);
      } catch (thrown) {
        if (branch.signal.aborted) throw branch.signal.reason;
        if (thrown instanceof FailedAt) throw thrown;
        if (!(thrown instanceof StatesError)) throw thrown;
        const error =
          thrown instanceof QueryEvaluationError
            ? this.evaluationFailed(branch, name, entry, thrown)
            : thrown;
        const catcher = ((state.Catch as CatchRule[] | undefined) ?? []).find((c) =>
          errorMatches(c.ErrorEquals, error.name),
        );
        if (!catcher) throw new FailedAt(error, failedState(name, input, branch.scope));
        try {
          step = await fields.caught(catcher, error);
        } catch (failure) {
          if (!(failure instanceof StatesError)) throw failure;
          const reported =
            failure instanceof QueryEvaluationError
              ? this.evaluationFailed(branch, name, entry, failure)
              : failure;
          throw new FailedAt(reported, failedState(name, input, branch.scope));
        }
      }
      const output = JSON.stringify(step.output);
      // Step Functions' payload limit: a state output above 256 KiB fails the execution, uncaught.
      // (A UTF-16 unit is at most 3 bytes of UTF-8: most outputs need no count.)
      if (output.length * 3 > MAX_PAYLOAD_BYTES && Buffer.byteLength(output) > MAX_PAYLOAD_BYTES) {
        throw new FailedAt(
          new StatesError(
            'States.DataLimitExceeded',
            `The state/task '${name}' returned a result with a size exceeding the maximum number of bytes service limit.`,
          ),
          failedState(name, input, branch.scope),
        );
      }
      branch.run.history.add(branch.cursor, `${state.Type}StateExited`, {
        name,
        output,
        outputDetails: { truncated: false },
        ...(step.assign && {
          assignedVariables: assignedVariables(step.assign),
          assignedVariablesDetails: { truncated: false },
        }),
      });
      if (step.assign) branch.scope.assign(step.assign);
      if (step.next === undefined) return step.output;
      name = step.next;
      input = step.output;
      inputText = output;
    }
  }

  /** Runs one state, reading its fields through `fields` (JSONPath or JSONata); what it did. */
  private async runState(
    name: string,
    state: AslState,
    fields: StateFields,
    context: Record<string, Json>,
    branch: Branch,
    executionInput: Json,
  ): Promise<Step> {
    switch (state.Type) {
      case 'Fail':
        throw await fields.failure();
      case 'Succeed':
        return fields.succeed();
      case 'Pass':
        return fields.pass();
      case 'Choice':
        return fields.choice();
      case 'Wait':
        await this.clock.sleep(await fields.waitMs(), branch.signal);
        return fields.waited();
      case 'Task': {
        let attemptContext = context;
        const result = await this.withRetry(state, branch.signal, async (retryCount) => {
          attemptContext = { ...context, State: { ...(context.State as object), RetryCount: retryCount } };
          return this.runTask(name, state, attemptContext, branch, await fields.task(attemptContext));
        });
        return fields.finish(result, attemptContext);
      }
      case 'Parallel': {
        const result = await this.withRetry(state, branch.signal, async () =>
          this.runParallel(state, await fields.branchInput(), branch, executionInput),
        );
        return fields.finish(result, context);
      }
      case 'Map': {
        const map = await fields.map();
        const result = await this.withRetry(state, branch.signal, () =>
          this.runMap(name, state, fields.input, context, branch, executionInput, map),
        );
        return fields.finish(result, context);
      }
      default:
        throw new Error(`Unreachable: state type ${state.Type} passed the definition check`);
    }
  }

  /**
   * Records a JSONata failure as AWS does (an EvaluationFailed event naming the state and field);
   * the error that goes on carries the cause AWS gives it, which names the state and its entry.
   */
  private evaluationFailed(
    branch: Branch,
    name: string,
    entry: { readonly previous: number; readonly id: number },
    error: QueryEvaluationError,
  ): StatesError {
    const cause = `An error occurred while executing the state '${name}' (entered at the event id #${entry.id}). ${error.message}`;
    // AWS's histories link an expression's failure to the event before the state's entry, and a
    // Wait's unreadable Timestamp to the entry itself; a Map whose Items failed fails after it.
    const previous = error.location === 'Timestamp' ? entry.id : entry.previous;
    branch.cursor.last = branch.run.history.add({ last: previous }, 'EvaluationFailed', {
      error: error.name,
      cause,
      location: error.location,
      state: name,
    });
    if (error.location === 'Items') branch.run.history.add(branch.cursor, 'MapStateFailed');
    return new StatesError(error.name, cause);
  }

  /** A Fail state's Error or Cause in JSONata: a string, literal or evaluated. */
  private async withRetry(
    state: AslState,
    signal: AbortSignal,
    attempt: (retryCount: number) => Promise<Json>,
  ): Promise<Json> {
    const retriers = (state.Retry as Retrier[] | undefined) ?? [];
    const made = retriers.map(() => 0);
    for (let retryCount = 0; ; retryCount++) {
      try {
        return await attempt(retryCount);
      } catch (error) {
        if (!(error instanceof StatesError)) throw error;
        const index = retriers.findIndex((r) => errorMatches(r.ErrorEquals, error.name));
        if (index < 0 || made[index] >= maxAttemptsOf(retriers[index])) throw error;
        made[index]++;
        const delaySeconds = retryDelaySeconds(retriers[index], made[index], this.random);
        await this.clock.sleep(delaySeconds * 1000, signal);
      }
    }
  }

  /** A Task's call, as `io` makes it; its raw result (ResultSelector is the caller's). */
  private async runTask(
    name: string,
    state: AslState,
    context: Record<string, Json>,
    branch: Branch,
    io: TaskIo,
  ): Promise<Json> {
    const integration = this.integrations.get(state)!;
    const [, resourceType, resource] =
      /^arn:[^:]+:states:::((?:aws-sdk:)?[a-z0-9-]+):(.+)$/.exec(String(state.Resource)) ?? [];
    const events = { resourceType, resource };
    const history = branch.run.history;
    const { timeoutSeconds, heartbeatSeconds } = io;
    let token: string | undefined;
    if (integration.kind === 'service' && integration.waitForTaskToken) {
      token = this.options.tokens.issue();
      branch.tokens.add(token);
      context = { ...context, Task: { Token: token } };
    }
    // The task ends when its branch does, or at its timeout: without one, the branch's signal is the
    // task's (a controller per call, made and dropped, was among the planner's costliest calls).
    const task = timeoutSeconds === undefined ? undefined : new AbortController();
    const onAbort = () => task?.abort(branch.signal.reason);
    if (task) branch.signal.addEventListener('abort', onAbort, { once: true });
    const signal = task?.signal ?? branch.signal;
    const timer = task && new AbortController();
    try {
      const parameters = await io.parameters(context);
      history.add(branch.cursor, 'TaskScheduled', () => ({
        ...events,
        region: this.options.region ?? 'us-east-1',
        parameters: JSON.stringify(parameters),
        ...(timeoutSeconds !== undefined && { timeoutInSeconds: timeoutSeconds }),
        ...(heartbeatSeconds !== undefined && { heartbeatInSeconds: heartbeatSeconds }),
      }));
      history.add(branch.cursor, 'TaskStarted', events);
      // `.sync` and `.waitForTaskToken` (never request-response): the submit call's answer.
      const submitted = (response: Json) => {
        if (signal.aborted) return;
        history.add(branch.cursor, 'TaskSubmitted', () => ({
          ...events,
          output: JSON.stringify(response),
          outputDetails: { truncated: false },
        }));
      };
      if (task && timer) {
        this.clock.sleep(Number(timeoutSeconds) * 1000, timer.signal).then(
          () => task.abort(new StatesError('States.Timeout', '')),
          () => undefined,
        );
      }
      const call = async (): Promise<Json> => {
        if (integration.kind === 'ecs') {
          if (!branch.run.runTask) throw new Error(`No ECS task runner was given to run state "${name}"`);
          return branch.run.runTask({
            stateName: name,
            state,
            parameters,
            signal,
            timeoutSeconds,
            onSubmitted: submitted,
          });
        }
        const send = () => {
          const request = integration.call(parameters, submitted) as Promise<Json>;
          return integration.io ? this.clock.track(request) : request;
        };
        const response = await (branch.run.callService
          ? branch.run.callService({ stateName: name, resource: String(state.Resource), parameters }, send)
          : send());
        if (token === undefined) return response;
        submitted(response);
        const waitStarted = this.clock.now();
        try {
          return await this.options.tokens.wait(token, heartbeatSeconds);
        } finally {
          branch.run.onTokenWait?.(name, this.clock.now() - waitStarted);
        }
      };
      try {
        const output = await untilAborted(call(), signal);
        history.add(branch.cursor, 'TaskSucceeded', () => ({
          ...events,
          output: JSON.stringify(output),
          outputDetails: { truncated: false },
        }));
        return output;
      } catch (error) {
        if (branch.signal.aborted) throw branch.signal.reason;
        if (!(error instanceof StatesError)) throw error;
        const timeout = error.name === 'States.Timeout' || error.name === 'States.HeartbeatTimeout';
        history.add(branch.cursor, timeout ? 'TaskTimedOut' : 'TaskFailed', {
          ...events,
          error: error.name,
          cause: error.message,
        });
        throw error;
      }
    } finally {
      timer?.abort(SETTLED);
      if (task) branch.signal.removeEventListener('abort', onAbort);
      if (token !== undefined) {
        this.options.tokens.close(token);
        branch.tokens.delete(token);
      }
    }
  }

  /** Runs each branch on `effective` (the state's input after Parameters or Arguments); their outputs. */
  private async runParallel(
    state: AslState,
    effective: Json,
    branch: Branch,
    executionInput: Json,
  ): Promise<Json> {
    const branches = state.Branches as StateMachineDefinition[];
    branch.run.history.add(branch.cursor, 'ParallelStateStarted');
    const outputs = await this.allOrFirstFailure(
      branches.map(
        (machine) => (sub: Branch) =>
          this.runStates(machine, String(machine.StartAt), effective, sub, executionInput),
      ),
      0,
      branch,
    ).catch((error: unknown) => {
      branch.run.history.add(branch.cursor, 'ParallelStateFailed');
      throw error;
    });
    branch.run.history.add(branch.cursor, 'ParallelStateSucceeded');
    return outputs;
  }

  /** A Map's run (inline, by `map`, or distributed); its outputs (ResultSelector is the caller's). */
  private async runMap(
    name: string,
    state: AslState,
    input: Json,
    context: Record<string, Json>,
    branch: Branch,
    executionInput: Json,
    map: MapIo,
  ): Promise<Json> {
    const processor = (state.ItemProcessor ?? state.Iterator) as StateMachineDefinition & {
      ProcessorConfig?: { Mode?: string; ExecutionType?: string };
    };
    const history = branch.run.history;
    if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') {
      if (!branch.run.distributedMap)
        throw new Error(`No Distributed Map runner was given to run state "${name}"`);
      const children = Object.fromEntries(
        Object.entries(processor).filter(([key]) => key !== 'ProcessorConfig'),
      );
      try {
        const outputs = await branch.run.distributedMap({
          stateName: name,
          state,
          input,
          context,
          processor: children as StateMachineDefinition,
          childType: processor.ProcessorConfig?.ExecutionType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
          signal: branch.signal,
          onStarted: (mapRunArn) => history.add(branch.cursor, 'MapRunStarted', { mapRunArn }),
          onRedriven: (mapRunArn, redriveCount) =>
            history.add(branch.cursor, 'MapRunRedriven', { mapRunArn, redriveCount }),
        });
        history.add(branch.cursor, 'MapRunSucceeded');
        return outputs;
      } catch (error) {
        if (error instanceof StatesError)
          history.add(branch.cursor, 'MapRunFailed', { error: error.name, cause: error.message });
        throw error;
      }
    }
    const items = await map.items();
    if (!Array.isArray(items)) {
      throw new StatesError(
        'States.Runtime',
        `Map state "${name}": the ItemsPath ${String(state.ItemsPath ?? '$')} is not an array`,
      );
    }
    history.add(branch.cursor, 'MapStateStarted', { length: items.length });
    const iterations = items.map((value, index) => async (sub: Branch) => {
      const itemContext = { ...context, Map: { Item: { Index: index, Value: value } } };
      const itemInput = await map.itemInput(value, itemContext);
      history.add(sub.cursor, 'MapIterationStarted', { name, index });
      try {
        const output = await this.runStates(
          processor,
          String(processor.StartAt),
          itemInput,
          sub,
          executionInput,
        );
        history.add(sub.cursor, 'MapIterationSucceeded', { name, index });
        return output;
      } catch (error) {
        if (!sub.signal.aborted) history.add(sub.cursor, 'MapIterationFailed', { name, index });
        throw error;
      }
    });
    try {
      const outputs = await this.allOrFirstFailure(iterations, map.maxConcurrency, branch);
      history.add(branch.cursor, 'MapStateSucceeded');
      return outputs;
    } catch (error) {
      if (!branch.signal.aborted) history.add(branch.cursor, 'MapStateFailed');
      throw error;
    }
  }

  /**
   * Runs each job on a branch of its own, at most `concurrency` at once (0: no limit); the first
   * failure stops the others and is the state's error (a FailedAt inside becomes its StatesError).
   */
  private async allOrFirstFailure(
    jobs: Array<(sub: Branch) => Promise<Json>>,
    concurrency: number,
    parent: Branch,
  ): Promise<Json[]> {
    const siblings = new AbortController();
    const onAbort = () => siblings.abort(parent.signal.reason);
    parent.signal.addEventListener('abort', onAbort, { once: true });
    const results: Json[] = new Array(jobs.length);
    let nextJob = 0;
    let failure: unknown;
    const worker = async () => {
      while (nextJob < jobs.length && failure === undefined && !siblings.signal.aborted) {
        const index = nextJob++;
        const sub: Branch = {
          ...parent,
          signal: siblings.signal,
          cursor: { last: parent.cursor.last },
          scope: parent.scope.inner(),
          current: undefined,
        };
        try {
          results[index] = await jobs[index](sub);
        } catch (error) {
          if (siblings.signal.aborted) return;
          failure = error instanceof FailedAt ? error.error : error;
          siblings.abort(failure);
          return;
        }
      }
    };
    const workers = Math.min(jobs.length, concurrency > 0 ? concurrency : jobs.length);
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      parent.signal.removeEventListener('abort', onAbort);
    }
    if (parent.signal.aborted) throw parent.signal.reason;
    if (failure !== undefined) throw failure;
    return results;
  }

  private contextObject(
    branch: Branch,
    executionInput: Json,
    stateName: string,
    enteredTime: string,
  ): Record<string, Json> {
    const { identity } = branch.run;
    const context: Record<string, Json> = {
      Execution: {
        Id: identity.executionArn,
        Input: executionInput,
        Name: identity.name,
        RoleArn: identity.roleArn ?? null,
        StartTime: identity.startTime,
        RedriveCount: identity.redriveCount ?? 0,
      },
      State: { EnteredTime: enteredTime, Name: stateName, RetryCount: 0 },
      StateMachine: { Id: identity.stateMachineArn, Name: identity.stateMachineArn.split(':').pop() ?? '' },
    };
    return Object.assign(context, { [VARIABLES]: branch.scope });
  }
}

/** An error no Catch handled, with the state it came from (where a redrive resumes). */
class FailedAt extends Error {
  constructor(
    readonly error: StatesError,
    readonly state: FailedState,
  ) {
    super(error.message);
  }
}

/** Where a redrive resumes; the variables only where there are any. */
function failedState(name: string, input: Json, scope: VariableScope): FailedState {
  const variables = scope.all();
  return Object.keys(variables).length > 0 ? { name, input, variables } : { name, input };
}

/** `promise`, or the signal's reason as soon as it is aborted. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function withoutUndefined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
