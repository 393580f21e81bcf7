// dynalite 4 ships no typings; these are the synchronous pieces of its expression support the
// simulator uses (local/simulate/dynamodb-items.ts): its PEG parsers and its evaluator.
declare module 'dynalite/db' {
  /** Whether `item` satisfies a parsed condition (`parse(...).expression`). */
  function matchesExprFilter(item: object, expression: unknown): boolean;
  /** The attribute value at a parsed path (`['a', 'b', 0]`), or undefined. */
  function mapPath(path: unknown, item: object): Record<string, unknown> | undefined;
  function compare(comparison: string, value: unknown, values: unknown[]): boolean;
  const db: { matchesExprFilter: typeof matchesExprFilter; mapPath: typeof mapPath; compare: typeof compare };
  export = db;
}

declare module 'dynalite/db/conditionParser' {
  const parser: { parse(text: string, options: { context: object }): unknown };
  export = parser;
}

declare module 'dynalite/db/updateParser' {
  const parser: { parse(text: string, options: { context: object }): unknown };
  export = parser;
}
