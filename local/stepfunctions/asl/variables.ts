import type { Json } from './paths';

/**
 * Workflow variables (`Assign`): one scope for the execution, one more for each Map iteration and
 * Parallel branch, which reads the scopes around it and writes only its own (an inner scope may not
 * write an outer variable on AWS: the definition check refuses an inner Assign of an outer
 * variable's name). A state's Assign is evaluated first, every value against the variables as they
 * were when the state began, then set at once.
 */
export class VariableScope {
  private readonly own = new Map<string, Json>();
  private flattened?: Record<string, Json>;

  constructor(private readonly outer?: VariableScope) {}

  get(name: string): Json | undefined {
    return this.own.has(name) ? this.own.get(name) : this.outer?.get(name);
  }

  assign(values: Record<string, Json>): void {
    for (const [name, value] of Object.entries(values)) this.own.set(name, value);
    this.flattened = undefined;
  }

  /** The scope of a Map iteration or Parallel branch run inside this one. */
  inner(): VariableScope {
    return new VariableScope(this);
  }

  /** Every variable in scope by name, as JSONata bindings (`$name`). */
  all(): Readonly<Record<string, Json>> {
    this.flattened ??= { ...this.outer?.all(), ...Object.fromEntries(this.own) };
    return this.flattened;
  }
}

/**
 * Where a JSONPath state's paths find the variables (`$name.field`): on the context object, under a
 * symbol, so every reader of paths (Parameters, InputPath, Choice rules, intrinsic functions...)
 * gets them with the context object it already takes. JSON.stringify skips symbol keys: the
 * context object as `$$` shows it is unchanged.
 */
export const VARIABLES = Symbol('variables');

export function variablesOf(context: unknown): VariableScope | undefined {
  return (context as { [VARIABLES]?: VariableScope } | null)?.[VARIABLES];
}

/** The history's `assignedVariables`: each value as JSON text. */
export function assignedVariables(values: Record<string, Json>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, JSON.stringify(value)]));
}
