import type { StatesError } from './errors';
import type { Json } from './paths';
import type { Catcher } from './retry';

/** What a state did: where next, its output, and the variables its Assign sets. */
export interface Step {
  readonly next?: string;
  readonly output: Json;
  readonly assign?: Record<string, Json>;
}

/** A Task's call. */
export interface TaskIo {
  /** The call's parameters, given the context object (which carries the task token, if any). */
  parameters(context: Record<string, Json>): Json | Promise<Json>;
  readonly timeoutSeconds?: number;
  readonly heartbeatSeconds?: number;
}

/** An inline Map's items and each one's input. */
export interface MapIo {
  items(): Promise<Json>;
  itemInput(value: Json, itemContext: Record<string, Json>): Json | Promise<Json>;
  readonly maxConcurrency: number;
}

/** A Catch rule, with the fields either query language gives it. */
export type CatchRule = Catcher & {
  readonly ResultPath?: string | null;
  readonly Output?: unknown;
  readonly Assign?: unknown;
};

/**
 * One state's fields, read in its query language (JSONPath: `jsonpath-states.ts`; JSONata:
 * `jsonata-states.ts`), against its input and context object. The engine does what the state does
 * (waits, Retry, tasks, branches, iterations, Catch) and asks these for every value it needs, so each
 * step of a state is written once for both languages. A JSONPath reading never waits: it returns
 * its value, not a promise, so the engine's steps take no more turns than the reading needs.
 */
export interface StateFields {
  /** What the state works on: its input after InputPath (JSONPath) or its input (JSONata). */
  readonly input: Json;
  /** A Fail state's error and cause. */
  failure(): StatesError | Promise<StatesError>;
  succeed(): Step | Promise<Step>;
  pass(): Step | Promise<Step>;
  choice(): Step | Promise<Step>;
  /** How long a Wait waits, in milliseconds of the clock. */
  waitMs(): number | Promise<number>;
  /** One attempt's call; `context` is the attempt's (its `State.RetryCount`). */
  task(context: Record<string, Json>): TaskIo | Promise<TaskIo>;
  /** A Parallel's branches' input. */
  branchInput(): Json | Promise<Json>;
  map(): MapIo | Promise<MapIo>;
  /** The step once a Wait has waited. */
  waited(): Step | Promise<Step>;
  /** The step once a Task, Parallel or Map has its result; `context` is the last attempt's. */
  finish(result: Json, context: Record<string, Json>): Step | Promise<Step>;
  /** Where a caught error goes: the Catch's output and Assign. */
  caught(catcher: CatchRule, error: StatesError): Step | Promise<Step>;
}
