// dynalite's own expression parsers and evaluator (the local DynamoDB's): synchronous, so the
// simulator's virtual-time calls read expressions exactly as the local pipeline's DynamoDB does.
import dynaliteDb from 'dynalite/db';
import conditionParser from 'dynalite/db/conditionParser';
import projectionParser from 'dynalite/db/projectionParser';
import updateParser from 'dynalite/db/updateParser';

import { isPlainObject } from '../cloudformation/intrinsics';
import type { LocalDeployment } from '../cloudformation/template';
import { jsonataText } from '../stepfunctions/asl/jsonata';
import type { Json } from '../stepfunctions/asl/paths';

/**
 * DynamoDB as the launch gate's calls see it, in virtual time: items by table and key, in DynamoDB
 * JSON; GetItem, UpdateItem (SET with if_not_exists and + / -, REMOVE, ADD and DELETE on numbers and sets),
 * PutItem and DeleteItem, each with its ConditionExpression, and Query on the table or a local or
 * global index (key condition, sorted by the index's sort key, Limit). Expressions are parsed and
 * conditions evaluated by dynalite's own parsers; applying an update's parsed sections is written
 * here, because dynalite keeps that inside its asynchronous store. Every call is strongly consistent
 * and applied at once, as a single item's write is. The planner serves it to the engine's DynamoDB
 * integrations as a client (`send(command)`), so its errors are the SDK's: a `name` and `$metadata`.
 */

type AttributeValue = Record<string, Json>;
type Item = Record<string, AttributeValue>;

/** A table's keys and its indexes' keys, from the template. */
export interface TableSchema {
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly indexes: Readonly<Record<string, IndexSchema>>;
}

/** A secondary index (local or global): its keys and the attributes it projects beside them. */
export interface IndexSchema {
  readonly hashKey: string;
  readonly rangeKey?: string;
  /**
   * The non-key attributes it projects (INCLUDE's NonKeyAttributes; none for KEYS_ONLY): a change
   * to another attribute writes nothing to the index.
   * @default - every attribute (ProjectionType ALL)
   */
  readonly nonKeyAttributes?: readonly string[];
}

/** The template's tables by their local name (the Ref). */
export function loadTableSchemas(deployment: LocalDeployment): Record<string, TableSchema> {
  const keysOf = (schema: unknown) => {
    const elements = (Array.isArray(schema) ? schema : []) as Array<{
      AttributeName: string;
      KeyType: string;
    }>;
    return {
      hashKey: elements.find((e) => e.KeyType === 'HASH')?.AttributeName ?? '',
      rangeKey: elements.find((e) => e.KeyType === 'RANGE')?.AttributeName,
    };
  };
  return Object.fromEntries(
    deployment.resourcesOfType('AWS::DynamoDB::Table').map(([logicalId, resource]) => {
      const properties = deployment.resolve(resource.Properties ?? {}) as Record<string, unknown>;
      const indexes = [
        ...((properties.LocalSecondaryIndexes as unknown[]) ?? []),
        ...((properties.GlobalSecondaryIndexes as unknown[]) ?? []),
      ].filter(isPlainObject);
      const tableName =
        typeof properties.TableName === 'string' ? properties.TableName : deployment.ref(logicalId);
      return [
        tableName,
        {
          ...keysOf(properties.KeySchema),
          indexes: Object.fromEntries(
            indexes.map((index) => [
              String(index.IndexName),
              { ...keysOf(index.KeySchema), ...projectionOf(index.Projection) },
            ]),
          ),
        },
      ];
    }),
  );
}

/** An index's projected non-key attributes, where it does not project them all. */
function projectionOf(projection: unknown): { nonKeyAttributes?: string[] } {
  const { ProjectionType: type, NonKeyAttributes: names } = isPlainObject(projection)
    ? projection
    : ({} as Record<string, unknown>);
  if (type === 'KEYS_ONLY') return { nonKeyAttributes: [] };
  if (type === 'INCLUDE') return { nonKeyAttributes: (Array.isArray(names) ? names : []).map(String) };
  return {};
}

interface Parsed {
  readonly update?: { sections: Section[] };
  readonly condition?: { expression: unknown };
  readonly keyCondition?: { expression: unknown };
  readonly projection?: { paths: unknown[] };
}

interface Section {
  readonly type: 'set' | 'remove' | 'add' | 'delete';
  readonly path: Array<string | number>;
  readonly val?: unknown;
  readonly attrType?: string;
}

/**
 * The expressions of a request, parsed by dynalite; a string when one is invalid (its message).
 * Parsed once per expression text, names and value types: dynalite's parsers put each value object
 * itself into the tree (`attrVals[name]`), so a tree parsed with stand-ins of the same types is the
 * request's once its stand-ins are swapped for the request's values. (Every gate call names its own
 * execution in its values; parsing each took a sixth of the planner's time.)
 */
const parsedExpressions = new Map<
  string,
  { parsed: Parsed | string; standIns: Map<unknown, string>; holdingStandIns: Set<unknown> }
>();

function parseExpressions(parameters: Record<string, Json>): Parsed | string {
  const values = (parameters.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
  const key = JSON.stringify([
    parameters.UpdateExpression,
    parameters.ConditionExpression,
    parameters.KeyConditionExpression,
    parameters.ProjectionExpression,
    parameters.ExpressionAttributeNames,
    Object.entries(values).map(([name, value]) => [name, Object.keys(value)]),
  ]);
  let entry = parsedExpressions.get(key);
  if (!entry) {
    const standIns = Object.fromEntries(
      Object.entries(values).map(([name, value]) => [name, standInOfType(Object.keys(value)[0])]),
    );
    const parsed = parseWith({ ...parameters, ExpressionAttributeValues: standIns });
    const byStandIn = new Map(Object.entries(standIns).map(([name, standIn]) => [standIn, name]));
    entry = { parsed, standIns: byStandIn, holdingStandIns: nodesHolding(parsed, byStandIn) };
    parsedExpressions.set(key, entry);
  }
  if (typeof entry.parsed === 'string') return entry.parsed;
  const { standIns, holdingStandIns } = entry;
  // Only the nodes on the way to a value are copied; the rest of the tree (paths, operators) is
  // shared by every call of the expression: nothing reads it but to evaluate it.
  const swap = (node: unknown): unknown => {
    const name = standIns.get(node);
    if (name !== undefined) return values[name];
    if (!holdingStandIns.has(node)) return node;
    if (Array.isArray(node)) return node.map(swap);
    return Object.fromEntries(Object.entries(node as object).map(([k, v]) => [k, swap(v)]));
  };
  return swap(entry.parsed) as Parsed;
}

/** The nodes of `tree` that hold a stand-in, themselves or deeper. */
function nodesHolding(tree: unknown, standIns: ReadonlyMap<unknown, string>): Set<unknown> {
  const holding = new Set<unknown>();
  const visit = (node: unknown): boolean => {
    if (standIns.has(node)) return true;
    if (node === null || typeof node !== 'object') return false;
    let holds = false;
    for (const child of Object.values(node)) holds = visit(child) || holds;
    if (holds) holding.add(node);
    return holds;
  };
  visit(tree);
  return holding;
}

/** A value of DynamoDB type `type` (`S`, `N`, `SS`...), for parsing only. */
function standInOfType(type: string | undefined): AttributeValue {
  if (type === 'N') return { N: '0' };
  if (type === 'NS') return { NS: ['0'] };
  if (type === 'SS' || type === 'BS') return { [type]: ['x'] };
  if (type === 'L') return { L: [] };
  if (type === 'M') return { M: {} };
  if (type === 'BOOL') return { BOOL: true };
  if (type === 'NULL') return { NULL: true };
  return { [type ?? 'S']: 'x' };
}

function parseWith(parameters: Record<string, Json>): Parsed | string {
  const context = {
    attrNames: parameters.ExpressionAttributeNames ?? undefined,
    attrVals: parameters.ExpressionAttributeValues ?? undefined,
    unusedAttrNames: {},
    unusedAttrVals: {},
    isReserved: () => false,
    compare: dynaliteDb.compare,
  };
  const parse = (
    text: Json | undefined,
    parser: { parse: (s: string, o: { context: object }) => unknown },
    key = false,
  ) => {
    if (typeof text !== 'string') return undefined;
    return parser.parse(text, { context: { ...context, isKeyCondition: key } });
  };
  try {
    const parsed = {
      update: parse(parameters.UpdateExpression, updateParser),
      condition: parse(parameters.ConditionExpression, conditionParser),
      keyCondition: parse(parameters.KeyConditionExpression, conditionParser, true),
      projection: parse(parameters.ProjectionExpression, projectionParser),
    };
    // dynalite's parsers answer a semantic error (an undefined value, overlapping paths) as a string
    const problem = Object.values(parsed).find((result) => typeof result === 'string');
    return (problem as string | undefined) ?? (parsed as Parsed);
  } catch (error) {
    return (error as Error).message;
  }
}

/** The expression parameters of a request: what `checkDynamoDbParameters` parses. */
const EXPRESSION_PARAMETERS = [
  'UpdateExpression',
  'ConditionExpression',
  'KeyConditionExpression',
  'ProjectionExpression',
  'ExpressionAttributeNames',
  'ExpressionAttributeValues',
];

/**
 * Why the simulator cannot run these Parameters (or a JSONata state's Arguments: an expression
 * DynamoDB would refuse), or undefined. Values given by a path (`{"SS.$": "States.Array($$.Execution.Id)"}`)
 * or by JSONata (`{"S": "{% $states.input.key %}"}`) are checked with a stand-in of their type; an
 * expression or a whole set of names or values that JSONata writes exists only at run time, where
 * the modelled DynamoDB refuses it as DynamoDB would.
 */
export function checkDynamoDbParameters(parameters: Record<string, Json>): string | undefined {
  if (EXPRESSION_PARAMETERS.some((name) => jsonataText(parameters[name]) !== undefined)) return undefined;
  const values = Object.fromEntries(
    Object.entries((parameters.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>).map(
      ([name, value]) => [name, standIn(value)],
    ),
  );
  const parsed = parseExpressions({ ...parameters, ExpressionAttributeValues: values });
  return typeof parsed === 'string' ? `an expression DynamoDB refuses (${parsed})` : undefined;
}

function standIn(value: AttributeValue): AttributeValue {
  const [key] = Object.keys(value);
  if (key?.endsWith('.$')) return standInOfType(key.slice(0, -2));
  const given = key === undefined ? undefined : value[key];
  const byJsonata =
    jsonataText(given) !== undefined || (Array.isArray(given) && given.some((m) => jsonataText(m)));
  return byJsonata ? standInOfType(key) : value;
}

/**
 * An error as the SDK throws a DynamoDB refusal: the integrations name it `DynamoDb.<name>`. It has
 * no stack trace: a refusal is an answer, not a bug (every full gate's claim is one), and capturing
 * the stack was among the planner's costliest calls.
 */
export class DynamoDbItemsError extends Error {
  readonly $metadata = {};

  constructor(name: string, message: string) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = name;
  }
}

export class DynamoDbItems {
  /** Each item by its id, with the number of the write that last stored it. */
  private readonly items = new Map<string, { tableName: string; item: Item; write: number }>();
  private writes = 0;
  /**
   * Per table (or index) and partition key value, its items in sort-key order, ties in the order they
   * were last written: a Query of the oldest waiter among thousands stays a lookup. Kept on every
   * write, but only for the tables and indexes queried so far (`ordered`): the others' orders, such
   * as every object's record in one partition, would cost each write a splice and serve no one.
   */
  private readonly orders = new Map<string, OrderEntry[]>();
  private readonly ordered = new Set<string>();
  /** Write requests made; each of these small items costs one write request unit. */
  writeRequests = 0;
  /**
   * Writes the tables' secondary indexes took (`indexWrites`): on AWS each is a write request unit
   * more, local indexes' and global indexes' alike.
   */
  indexWriteRequests = 0;
  /** Read requests made (a consistent Query of one page is one read request unit). */
  readRequests = 0;

  constructor(private readonly schemas: Readonly<Record<string, TableSchema>> = {}) {}

  /** UpdateItem: its condition on the item as it is, then its update; applied at once. */
  updateItem(parameters: Record<string, Json>): Json {
    this.writeRequests++;
    const parsed = this.parsed(parameters);
    const id = this.idOf(parameters);
    const existing = this.items.get(id)?.item;
    this.check(parsed, existing);
    // The stored item is never changed in place: a top-level SET, ADD, DELETE or REMOVE puts or
    // drops a value of the copy; a nested path's attribute is copied whole first. (A deep copy
    // would copy every attribute of a record on each of its writes.)
    const item: Item = { ...(existing ?? (parameters.Key as Item)) };
    const touched = new Set<string>();
    for (const section of parsed.update?.sections ?? []) {
      const attribute = String(section.path[0]);
      if (section.path.length > 1 && !touched.has(attribute) && attribute in item)
        item[attribute] = structuredClone(item[attribute]);
      touched.add(attribute);
      applySection(section, item);
    }
    this.store(id, String(parameters.TableName), item);
    switch (parameters.ReturnValues ?? 'NONE') {
      case 'ALL_NEW':
        return { Attributes: structuredClone(item) as Json };
      case 'UPDATED_NEW':
        return {
          Attributes: Object.fromEntries(
            [...touched].filter((a) => a in item).map((a) => [a, item[a]]),
          ) as Json,
        };
      default:
        return {};
    }
  }

  /** GetItem: always strongly consistent here; only the ProjectionExpression's attributes, with one. */
  getItem(parameters: Record<string, Json>): Json {
    this.readRequests++;
    const { projection } = this.parsed(parameters);
    const found = this.items.get(this.idOf(parameters))?.item;
    return found ? { Item: projected(found, projection) as Json } : {};
  }

  putItem(parameters: Record<string, Json>): Json {
    this.writeRequests++;
    const parsed = this.parsed(parameters);
    const item = structuredClone(parameters.Item as Item);
    const id = this.idOf({
      TableName: parameters.TableName,
      Key: this.keyOf(String(parameters.TableName), item),
    });
    this.check(parsed, this.items.get(id)?.item);
    this.store(id, String(parameters.TableName), item);
    return {};
  }

  deleteItem(parameters: Record<string, Json>): Json {
    this.writeRequests++;
    const parsed = this.parsed(parameters);
    const id = this.idOf(parameters);
    this.check(parsed, this.items.get(id)?.item);
    this.store(id, String(parameters.TableName), undefined);
    return {};
  }

  /** Query: the items of the key condition, in the order of the index's (or table's) sort key. */
  query(parameters: Record<string, Json>): Json {
    this.readRequests++;
    const parsed = this.parsed(parameters);
    const tableName = String(parameters.TableName);
    const indexName = typeof parameters.IndexName === 'string' ? parameters.IndexName : undefined;
    const schema = this.schemas[tableName];
    const keys = indexName === undefined ? schema : schema?.indexes[indexName];
    const partition = keys && partitionValueOf(parsed.keyCondition?.expression, keys.hashKey);
    if (!keys || partition === undefined) {
      throw new DynamoDbItemsError(
        'ValidationException',
        `Query on ${tableName}${indexName ? ` index ${indexName}` : ''}: the simulator needs the table's schema and "<partition key> = :value"`,
      );
    }
    this.keepOrder(tableName, indexName, keys);
    const stored = this.orders.get(orderKey(tableName, indexName, partition)) ?? [];
    const ordered = parameters.ScanIndexForward === false ? [...stored].reverse() : stored;
    const limit = typeof parameters.Limit === 'number' ? parameters.Limit : Infinity;
    // Limit counts the items read: walk the order only that far.
    const page: Item[] = [];
    for (const { id } of ordered) {
      if (page.length >= limit) break;
      const { item } = this.items.get(id)!;
      if (dynaliteDb.matchesExprFilter(item, parsed.keyCondition?.expression)) page.push(item);
    }
    return {
      Items: page.map((item) => projected(item, parsed.projection)) as Json,
      Count: page.length,
      ScannedCount: page.length,
    };
  }

  /**
   * The item `key` of `tableName` as it stands, not copied and not counted as a request: the
   * planner's own look at the gate between calls (launch-gate-watch.ts), not a call of the workflow.
   */
  peek(tableName: string, key: Record<string, Json>): Readonly<Record<string, Json>> | undefined {
    return this.items.get(this.idOf({ TableName: tableName, Key: key }))?.item;
  }

  /** How many items of `tableName` pass `test`: the planner's own look, not copied and not counted as a request. */
  count(tableName: string, test: (item: Readonly<Record<string, Json>>) => boolean): number {
    let found = 0;
    for (const stored of this.items.values())
      if (stored.tableName === tableName && test(stored.item)) found++;
    return found;
  }

  /** Every item, as DynamoDB JSON. */
  snapshot(): Array<{ readonly tableName: string; readonly item: Record<string, Json> }> {
    return [...this.items.values()].map(({ tableName, item }) => ({
      tableName,
      item: structuredClone(item) as Record<string, Json>,
    }));
  }

  /** Writes (or, with no item, deletes) the item `id`, keeping the orders and counting the index writes. */
  private store(id: string, tableName: string, item: Item | undefined): void {
    const schema = this.schemas[tableName];
    const previous = this.items.get(id);
    const write = ++this.writes;
    for (const [name, keys] of [[undefined, schema] as const, ...Object.entries(schema?.indexes ?? {})]) {
      if (!keys) continue;
      if (name !== undefined) this.indexWriteRequests += indexWrites(keys, previous?.item, item);
      if (!this.ordered.has(`${tableName}\n${name ?? ''}`)) continue;
      const key = holds(keys, item) ? orderKey(tableName, name, item[keys.hashKey]) : undefined;
      const entry = key === undefined ? undefined : orderEntry(id, item!, keys, write);
      if (previous && holds(keys, previous.item)) {
        const previousKey = orderKey(tableName, name, previous.item[keys.hashKey]);
        const list = this.orders.get(previousKey)!;
        const at = positionOf(list, orderEntry(id, previous.item, keys, previous.write));
        // Its place unchanged (the same partition and sort key, none of that key after it): no splice,
        // which for an open record among thousands moved them all on each of its writes.
        const stays = (other: OrderEntry | undefined) => other && compareEntries(other, entry!) <= 0;
        if (key === previousKey && stays(list[at]) && !stays(list[at + 1])) {
          list[at] = entry!;
          continue;
        }
        list.splice(at, 1);
      }
      if (key !== undefined && entry) {
        const list = this.orders.get(key) ?? [];
        this.orders.set(key, list);
        list.splice(positionOf(list, entry), 0, entry);
      }
    }
    if (item) this.items.set(id, { tableName, item, write });
    else this.items.delete(id);
  }

  /** Starts keeping the order of a table or index: from its items as they stand, then on every write. */
  private keepOrder(tableName: string, indexName: string | undefined, keys: IndexSchema): void {
    const name = `${tableName}\n${indexName ?? ''}`;
    if (this.ordered.has(name)) return;
    this.ordered.add(name);
    for (const [id, stored] of this.items) {
      if (stored.tableName !== tableName || !holds(keys, stored.item)) continue;
      const key = orderKey(tableName, indexName, stored.item[keys.hashKey]);
      const list = this.orders.get(key) ?? [];
      this.orders.set(key, list);
      list.push(orderEntry(id, stored.item, keys, stored.write));
    }
    for (const [key, list] of this.orders) if (key.startsWith(`${name}\n`)) list.sort(compareEntries);
  }

  private parsed(parameters: Record<string, Json>): Parsed {
    const parsed = parseExpressions(parameters);
    if (typeof parsed === 'string') throw new DynamoDbItemsError('ValidationException', parsed);
    return parsed;
  }

  private check(parsed: Parsed, existing: Item | undefined): void {
    if (parsed.condition && !dynaliteDb.matchesExprFilter(existing ?? {}, parsed.condition.expression)) {
      throw new DynamoDbItemsError('ConditionalCheckFailedException', 'The conditional request failed');
    }
  }

  private keyOf(tableName: string, item: Item): Item {
    const schema = this.schemas[tableName];
    if (!schema) return item;
    return Object.fromEntries(
      [schema.hashKey, schema.rangeKey].filter((k): k is string => k !== undefined).map((k) => [k, item[k]]),
    );
  }

  private idOf(parameters: Record<string, Json>): string {
    const key = parameters.Key as Item;
    // Every gate call and every look of the planner makes one: a string built by hand, not JSON.
    let id = String(parameters.TableName);
    for (const name of Object.keys(key).sort()) {
      const value = key[name];
      id += `\n${name}\n${typeof value.S === 'string' ? `S${value.S}` : JSON.stringify(value)}`;
    }
    return id;
  }
}

/** Whether `item` is in the index (or table) `keys`: an index holds only the items that have its keys. */
function holds(keys: IndexSchema, item: Item | undefined): item is Item {
  return item !== undefined && keys.hashKey in item && (keys.rangeKey === undefined || keys.rangeKey in item);
}

/**
 * The writes a table write takes on one secondary index, as DynamoDB bills them (Developer Guide,
 * "Provisioned throughput considerations for Global Secondary Indexes", and the same for local
 * ones): one to put an item that comes into the index, one to delete one that leaves it, two (delete
 * and put) when its index key changes, one when only an attribute it projects changes, none when the
 * item is in it neither before nor after. Each entry here is under 1 KB: one write request unit.
 */
function indexWrites(index: IndexSchema, before: Item | undefined, after: Item | undefined): number {
  if (!holds(index, before) || !holds(index, after))
    return Number(holds(index, before)) + Number(holds(index, after));
  const same = (name: string) => JSON.stringify(before[name]) === JSON.stringify(after[name]);
  if (!same(index.hashKey) || (index.rangeKey !== undefined && !same(index.rangeKey))) return 2;
  const projected = index.nonKeyAttributes ?? new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...projected].every(same) ? 0 : 1;
}

/** A copy of `item`, or of the attributes a parsed ProjectionExpression names. */
function projected(item: Item, projection: Parsed['projection']): Item {
  return structuredClone(projection ? (dynaliteDb.mapPaths(projection.paths, item) as Item) : item);
}

/** Applies one parsed update section (dynalite's AST) to `item`, in place. */
function applySection(section: Section, item: Item): void {
  const parent =
    section.path.length === 1 ? item : (dynaliteDb.mapPath(section.path.slice(0, -1), item)?.M as Item);
  const name = String(section.path.at(-1));
  if (!parent)
    throw new DynamoDbItemsError(
      'ValidationException',
      'The document path provided in the update expression is invalid for update',
    );
  const existing = parent[name];
  const value = section.val as AttributeValue;
  const setType = section.attrType ?? '';
  switch (section.type) {
    case 'remove':
      delete parent[name];
      return;
    case 'set':
      parent[name] = resolve(section.val, item);
      return;
    case 'add':
      if (setType === 'N') {
        parent[name] = { N: String(Number(existing?.N ?? 0) + Number(value.N)) };
      } else {
        const members = (existing?.[setType] as string[] | undefined) ?? [];
        parent[name] = {
          [setType]: [...members, ...(value[setType] as string[]).filter((m) => !members.includes(m))],
        };
      }
      return;
    case 'delete': {
      if (!existing) return;
      const kept = (existing[setType] as string[]).filter((m) => !(value[setType] as string[]).includes(m));
      if (kept.length === 0) delete parent[name];
      else parent[name] = { [setType]: kept };
    }
  }
}

/** A SET operand: a value, a path, if_not_exists(path, operand), or operand + / - operand. */
function resolve(operand: unknown, item: Item): AttributeValue {
  if (Array.isArray(operand)) return structuredClone(dynaliteDb.mapPath(operand, item)) as AttributeValue;
  const node = operand as { type?: string; name?: string; args?: unknown[] } & AttributeValue;
  if (node.type === 'function' && node.name === 'if_not_exists') {
    return (
      (dynaliteDb.mapPath(node.args?.[0], item) as AttributeValue | undefined) ??
      resolve(node.args?.[1], item)
    );
  }
  if (node.type === '+' || node.type === '-') {
    const [a, b] = (node.args ?? []).map((arg) => Number(resolve(arg, item).N));
    return { N: String(node.type === '+' ? a + b : a - b) };
  }
  return structuredClone(node);
}

/** The value a parsed key condition gives the partition key (`pk = :v`, alone or ANDed). */
function partitionValueOf(expression: unknown, hashKey: string): AttributeValue | undefined {
  const node = expression as { type?: string; args?: unknown[] } | undefined;
  if (node?.type === 'and') {
    return node.args?.map((arg) => partitionValueOf(arg, hashKey)).find((v) => v !== undefined);
  }
  if (node?.type !== '=' || !node.args) return undefined;
  const [left, right] = node.args;
  return JSON.stringify(left) === JSON.stringify([hashKey]) ? (right as AttributeValue) : undefined;
}

function orderKey(
  tableName: string,
  indexName: string | undefined,
  partition: AttributeValue | undefined,
): string {
  return `${tableName}\n${indexName ?? ''}\n${JSON.stringify(partition)}`;
}

/** An item's place in an order: its sort key's value, then the write that last stored it. */
interface OrderEntry {
  readonly id: string;
  readonly sortValue: number | string;
  readonly write: number;
}

function orderEntry(id: string, item: Item, keys: IndexSchema, write: number): OrderEntry {
  const sortKey = keys.rangeKey === undefined ? undefined : item[keys.rangeKey];
  const sortValue = sortKey?.N !== undefined ? Number(sortKey.N) : String(sortKey?.S ?? '');
  return { id, sortValue, write };
}

function compareEntries(a: OrderEntry, b: OrderEntry): number {
  const [x, y] = [a.sortValue, b.sortValue];
  return x < y ? -1 : x > y ? 1 : a.write - b.write;
}

/** Where `entry` is, or goes, in `list` (in order: no two entries of one write). */
function positionOf(list: readonly OrderEntry[], entry: OrderEntry): number {
  let low = 0;
  for (let high = list.length; low < high;) {
    const middle = (low + high) >>> 1;
    if (compareEntries(list[middle], entry) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
