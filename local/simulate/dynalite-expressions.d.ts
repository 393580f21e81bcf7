// dynalite 4 ships no typings; these are the synchronous pieces of its expression support the
// simulator uses (local/simulate/dynamodb-items.ts): its PEG parsers and its evaluator.
declare module 'dynalite/db' {
  const db: {
    /** Whether `item` satisfies a parsed condition (`parse(...).expression`). */
    matchesExprFilter(item: object, expression: unknown): boolean;
    /** The attribute value at a parsed path (`['a', 'b', 0]`), or undefined. */
    mapPath(path: unknown, item: object): Record<string, unknown> | undefined;
    /** The attributes at parsed paths (a ProjectionExpression's), as an item. */
    mapPaths(paths: unknown[], item: object): Record<string, unknown>;
    compare(comparison: string, value: unknown, values: unknown[]): boolean;
  };
  export = db;
}

declare module 'dynalite/db/conditionParser' {
  const parser: { parse(text: string, options: { context: object }): unknown };
  export = parser;
}

declare module 'dynalite/db/projectionParser' {
  const parser: { parse(text: string, options: { context: object }): unknown };
  export = parser;
}

declare module 'dynalite/db/updateParser' {
  const parser: { parse(text: string, options: { context: object }): unknown };
  export = parser;
}
