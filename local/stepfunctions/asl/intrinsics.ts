import { createHash, randomInt, randomUUID } from 'node:crypto';

import { isPlainObject } from '../../cloudformation/intrinsics';
import { StatesError } from './errors';
import { type CompiledPath, compilePath, type Json, readPath } from './paths';

/**
 * Step Functions' intrinsic functions (`States.Format('{}.json', $.key)`, `States.MathAdd($.n, 1)`,
 * `States.StringToJson($.Attributes.demand.N)`...): parsed when the definition loads (an unknown
 * function or a malformed call is refused there), evaluated per state. A function given arguments
 * it cannot take fails with States.IntrinsicFailure, as on AWS.
 *
 * Hand-written: no maintained library implements them (aws-local-stepfunctions does, inside its
 * interpreter, not as a module of its own).
 */

export type IntrinsicArgument =
  { readonly literal: Json } | { readonly path: CompiledPath } | { readonly call: IntrinsicCall };

export interface IntrinsicCall {
  readonly name: string;
  readonly args: readonly IntrinsicArgument[];
}

export function isIntrinsic(expression: string): boolean {
  return expression.startsWith('States.');
}

const parsed = new Map<string, IntrinsicCall>();

/** Parses `States.Name(arg, ...)`; throws a plain Error naming the problem. */
export function parseIntrinsic(expression: string): IntrinsicCall {
  const cached = parsed.get(expression);
  if (cached) return cached;
  const parser = new Parser(expression);
  const call = parser.call();
  parser.end();
  parsed.set(expression, call);
  return call;
}

class Parser {
  private at = 0;
  constructor(private readonly text: string) {}

  call(): IntrinsicCall {
    const name = /States\.[A-Za-z0-9]+/y;
    name.lastIndex = this.at;
    const match = name.exec(this.text);
    if (!match) this.fail('an intrinsic function name (States.Format, ...)');
    this.at = name.lastIndex;
    const fn = match![0];
    if (!Object.hasOwn(FUNCTIONS, fn)) {
      throw new Error(
        `${fn} is not an intrinsic function of Step Functions (${Object.keys(FUNCTIONS).join(', ')})`,
      );
    }
    this.expect('(');
    const args: IntrinsicArgument[] = [];
    this.space();
    if (this.text[this.at] !== ')') {
      for (;;) {
        args.push(this.argument());
        this.space();
        if (this.text[this.at] === ',') {
          this.at++;
          continue;
        }
        break;
      }
    }
    this.expect(')');
    return { name: fn, args };
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) this.fail('the end of the expression');
  }

  private argument(): IntrinsicArgument {
    this.space();
    const c = this.text[this.at];
    if (c === "'") return { literal: this.string() };
    if (c === '$') return { path: this.path() };
    if (this.text.startsWith('States.', this.at)) return { call: this.call() };
    const literal = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
    literal.lastIndex = this.at;
    const match = literal.exec(this.text);
    if (!match) this.fail("an argument: a 'string', a number, true, false, null, a path or a function");
    this.at = literal.lastIndex;
    return { literal: JSON.parse(match![0]) as Json };
  }

  /** A quoted string: `\'`, `\{`, `\}` and `\\` escape the character after the backslash. */
  private string(): string {
    let out = '';
    for (this.at++; this.at < this.text.length; this.at++) {
      const c = this.text[this.at];
      if (c === '\\') {
        // Kept escaped for States.Format's own reading of `\{` and `\}`.
        const next = this.text[++this.at];
        out += next === '{' || next === '}' ? `\\${next}` : next;
      } else if (c === "'") {
        this.at++;
        return out;
      } else out += c;
    }
    return this.fail('a closing quote');
  }

  /** A path runs to the next `,` or `)` outside brackets and quotes. */
  private path(): CompiledPath {
    const start = this.at;
    let depth = 0;
    let quote: string | undefined;
    for (; this.at < this.text.length; this.at++) {
      const c = this.text[this.at];
      if (quote) {
        if (c === '\\') this.at++;
        else if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '[') depth++;
      else if (c === ']') depth--;
      else if (depth === 0 && (c === ',' || c === ')')) break;
    }
    return compilePath(this.text.slice(start, this.at).trim());
  }

  private expect(c: string): void {
    this.space();
    if (this.text[this.at] !== c) this.fail(`"${c}"`);
    this.at++;
  }

  private space(): void {
    while (this.text[this.at] === ' ') this.at++;
  }

  private fail(expected: string): never {
    throw new Error(`"${this.text}": expected ${expected} at character ${this.at + 1}`);
  }
}

export function evaluateIntrinsic(call: IntrinsicCall, input: Json, context: Json): Json {
  const args = call.args.map((arg): Json => {
    if ('literal' in arg) return arg.literal;
    if ('path' in arg) return readPath(arg.path, input, context, call.name);
    return evaluateIntrinsic(arg.call, input, context);
  });
  return runIntrinsic(call.name, args);
}

/**
 * An intrinsic function on values: also what JSONata's Step Functions functions (`$partition`,
 * `$range`, `$hash`, `$parse`, `$uuid`) run, so each has one implementation.
 */
export function runIntrinsic(name: string, args: Json[]): Json {
  const fn = FUNCTIONS[name];
  if (fn.arity !== undefined && !fn.arity.includes(args.length)) {
    throw failure(name, `takes ${fn.arity.join(' or ')} arguments, got ${args.length}`);
  }
  return fn.run(args, name);
}

function failure(name: string, why: string): StatesError {
  return new StatesError('States.IntrinsicFailure', `Invalid arguments in ${name}: ${why}`);
}

function string(value: Json, name: string): string {
  if (typeof value !== 'string') throw failure(name, `${JSON.stringify(value)} is not a string`);
  return value;
}

function integer(value: Json, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw failure(name, `${JSON.stringify(value)} is not an integer`);
  }
  return value;
}

function array(value: Json, name: string): Json[] {
  if (!Array.isArray(value)) throw failure(name, `${JSON.stringify(value)} is not an array`);
  return value;
}

const HASHES: Record<string, string> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

const FUNCTIONS: Record<
  string,
  { readonly arity?: readonly number[]; run(args: Json[], name: string): Json }
> = {
  'States.Format': {
    run: ([template, ...values], name) => {
      const parts = string(template, name).split(/(?<!\\)\{\}/);
      if (parts.length - 1 !== values.length) {
        throw failure(name, `the template has ${parts.length - 1} {} for ${values.length} values`);
      }
      const text = (value: Json) => {
        if (isPlainObject(value) || Array.isArray(value))
          throw failure(name, 'values must be strings, numbers, booleans or null');
        return typeof value === 'string' ? value : JSON.stringify(value);
      };
      const unescape = (part: string) => part.replace(/\\([{}])/g, '$1');
      return parts.map((part, i) => unescape(part) + (i < values.length ? text(values[i]) : '')).join('');
    },
  },
  'States.StringToJson': {
    arity: [1],
    run: ([text], name) => {
      try {
        return JSON.parse(string(text, name)) as Json;
      } catch {
        throw failure(name, `${JSON.stringify(text)} is not JSON text`);
      }
    },
  },
  'States.JsonToString': { arity: [1], run: ([value]) => JSON.stringify(value) },
  'States.Array': { run: (values) => values },
  'States.ArrayPartition': {
    arity: [2],
    run: ([items, size], name) => {
      const list = array(items, name);
      const chunk = integer(size, name);
      if (chunk < 1) throw failure(name, 'the chunk size must be above 0');
      const out: Json[] = [];
      for (let i = 0; i < list.length; i += chunk) out.push(list.slice(i, i + chunk));
      return out;
    },
  },
  'States.ArrayContains': {
    arity: [2],
    run: ([items, value], name) =>
      array(items, name).some((item) => JSON.stringify(item) === JSON.stringify(value)),
  },
  'States.ArrayRange': {
    arity: [3],
    run: ([first, last, step], name) => {
      const [from, to, by] = [integer(first, name), integer(last, name), integer(step, name)];
      if (by === 0) throw failure(name, 'the step must not be 0');
      const out: number[] = [];
      for (let n = from; by > 0 ? n <= to : n >= to; n += by) {
        out.push(n);
        if (out.length > 1000) throw failure(name, 'the range has more than 1000 items');
      }
      return out;
    },
  },
  'States.ArrayGetItem': {
    arity: [2],
    run: ([items, index], name) => {
      const list = array(items, name);
      const i = integer(index, name);
      if (i < 0 || i >= list.length) throw failure(name, `index ${i} is outside the array`);
      return list[i];
    },
  },
  'States.ArrayLength': { arity: [1], run: ([items], name) => array(items, name).length },
  'States.ArrayUnique': {
    arity: [1],
    run: ([items], name) => {
      const seen = new Set<string>();
      return array(items, name).filter((item) => {
        const key = JSON.stringify(item);
        return seen.has(key) ? false : (seen.add(key), true);
      });
    },
  },
  'States.Base64Encode': {
    arity: [1],
    run: ([text], name) => Buffer.from(string(text, name)).toString('base64'),
  },
  'States.Base64Decode': {
    arity: [1],
    run: ([text], name) => Buffer.from(string(text, name), 'base64').toString(),
  },
  'States.Hash': {
    arity: [2],
    run: ([data, algorithm], name) => {
      const hash = HASHES[string(algorithm, name)];
      if (!hash) throw failure(name, `the algorithm must be one of ${Object.keys(HASHES).join(', ')}`);
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      return createHash(hash).update(text).digest('hex');
    },
  },
  'States.JsonMerge': {
    arity: [3],
    run: ([left, right, deep], name) => {
      if (!isPlainObject(left) || !isPlainObject(right)) throw failure(name, 'both values must be objects');
      if (deep !== false) throw failure(name, 'only a shallow merge (false) is supported by Step Functions');
      return { ...(left as Record<string, Json>), ...(right as Record<string, Json>) };
    },
  },
  'States.MathRandom': {
    arity: [2, 3],
    run: ([start, end], name) => randomInt(integer(start, name), integer(end, name)),
  },
  'States.MathAdd': {
    arity: [2],
    run: ([a, b], name) => integer(a, name) + integer(b, name),
  },
  'States.StringSplit': {
    arity: [2],
    run: ([text, separators], name) => {
      const chars = [...string(separators, name)];
      return string(text, name).split(
        new RegExp(`[${chars.map((c) => c.replace(/[\]\\^-]/g, '\\$&')).join('')}]`),
      );
    },
  },
  'States.UUID': { arity: [0], run: () => randomUUID() },
};
