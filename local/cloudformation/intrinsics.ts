/**
 * Resolves CloudFormation intrinsic functions in a fragment of a synthesized template (a state
 * machine's DefinitionString, a rule's EventPattern or target, container environment values) to
 * local values, so the local runner can execute exactly what would be deployed.
 *
 * Why hand-written rather than cfn-resolver-lib (the npm package for this; 1.1.8, last published
 * December 2024, untyped JavaScript depending on lodash and traverse): it evaluates whole templates
 * and fills in resource ARNs from its own resource-type scheme table. The local runner needs only a
 * few fragments resolved, against local values for the handful of resources it emulates, and an
 * error naming the logical ID when the template references anything else. That is a few hundred
 * typed lines with no dependency.
 *
 * Supported: Ref (resources, parameters, pseudo parameters, AWS::NoValue), Fn::GetAtt (array and
 * "Id.Attr" forms), Fn::Join, Fn::Sub (both forms, ${!Literal}), Fn::Select, Fn::Split, Fn::If,
 * Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition, Fn::FindInMap, Fn::Base64. Fn::ImportValue and
 * anything else throw.
 * Reference: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
 */

export type PseudoParameter =
  | 'AWS::AccountId'
  | 'AWS::NotificationARNs'
  | 'AWS::Partition'
  | 'AWS::Region'
  | 'AWS::StackId'
  | 'AWS::StackName'
  | 'AWS::URLSuffix';

/** Looks up `Fn::GetAtt` values: a map of logical ID -> attribute -> value, or a function. */
export type GetAttValues =
  | Readonly<Record<string, Readonly<Record<string, unknown>>>>
  | ((logicalId: string, attribute: string) => unknown);

export interface IntrinsicContext {
  /** `Ref` values by logical ID: resources and template parameters. */
  readonly refs: Readonly<Record<string, unknown>>;
  /** `Fn::GetAtt` values. A function returning `undefined` means "unknown" and throws. */
  readonly getAtts: GetAttValues;
  /** Pseudo parameter values, e.g. `{ 'AWS::Region': 'us-east-1' }`. */
  readonly pseudo: Readonly<Partial<Record<PseudoParameter, unknown>>>;
  /** Template conditions by name: a boolean, or the template's condition expression. */
  readonly conditions?: Readonly<Record<string, unknown>>;
  /** The template's `Mappings` section, for `Fn::FindInMap`. */
  readonly mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  /** Appended to "no local value" errors to say where the caller maps logical IDs. */
  readonly missingValueHint?: string;
}

/** Thrown when a fragment cannot be resolved locally; the message names the reference and the fix. */
export class IntrinsicResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntrinsicResolutionError';
  }
}

const DEFAULT_MISSING_VALUE_HINT =
  'add it to the refs/getAtts of the IntrinsicContext that the local runner passes to resolveIntrinsics';

/** `Ref: AWS::NoValue` removes the property or list element that holds it. */
const NO_VALUE = Symbol('AWS::NoValue');

/** Returns `value` with every intrinsic function replaced by its local value. Does not mutate `value`. */
export function resolveIntrinsics(value: unknown, context: IntrinsicContext): unknown {
  const resolved = new Resolver(context).resolve(value, '');
  return resolved === NO_VALUE ? undefined : resolved;
}

/** Options for {@link contextForTemplate}. */
export interface TemplateContextOptions {
  readonly region: string;
  readonly accountId: string;
  /** @default 'local-stack' */
  readonly stackName?: string;
  /** Resource (and parameter) `Ref` values; these override parameter defaults. */
  readonly refs?: Readonly<Record<string, unknown>>;
  /** @default {} */
  readonly getAtts?: GetAttValues;
  readonly missingValueHint?: string;
}

/**
 * Builds the generic part of a context from a template: pseudo parameters for the region and
 * account, parameter defaults as `Ref` values, the `Conditions` and the `Mappings`. Resource
 * values are the caller's: pass them as `refs` and `getAtts`.
 */
export function contextForTemplate(template: unknown, options: TemplateContextOptions): IntrinsicContext {
  const sections = isPlainObject(template) ? template : {};
  const parameterDefaults: Record<string, unknown> = {};
  for (const [name, parameter] of Object.entries(asRecord(sections.Parameters))) {
    if (isPlainObject(parameter) && parameter.Default !== undefined)
      parameterDefaults[name] = parameter.Default;
  }
  const stackName = options.stackName ?? 'local-stack';
  const partition = partitionOf(options.region);
  return {
    refs: { ...parameterDefaults, ...options.refs },
    getAtts: options.getAtts ?? {},
    pseudo: {
      'AWS::AccountId': options.accountId,
      'AWS::NotificationARNs': [],
      'AWS::Partition': partition,
      'AWS::Region': options.region,
      'AWS::StackId': `arn:${partition}:cloudformation:${options.region}:${options.accountId}:stack/${stackName}/local`,
      'AWS::StackName': stackName,
      'AWS::URLSuffix': partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
    },
    conditions: asRecord(sections.Conditions),
    mappings: asRecord(sections.Mappings) as IntrinsicContext['mappings'],
    missingValueHint: options.missingValueHint,
  };
}

/** The AWS partition a region belongs to, as `AWS::Partition` resolves there. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

class Resolver {
  private readonly conditionCache = new Map<string, boolean>();
  private readonly conditionsInProgress = new Set<string>();

  constructor(private readonly context: IntrinsicContext) {}

  /** `path` locates the value in the fragment for error messages, e.g. `Environment[0].Value`. */
  resolve(value: unknown, path: string): unknown {
    if (Array.isArray(value)) {
      return value
        .map((item, index) => this.resolve(item, `${path}[${index}]`))
        .filter((item) => item !== NO_VALUE);
    }
    if (!isPlainObject(value)) return value;
    const intrinsic = intrinsicName(value);
    if (intrinsic !== undefined) return this.resolveIntrinsic(intrinsic, value[intrinsic], path || intrinsic);
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const resolved = this.resolve(child, path ? `${path}.${key}` : key);
      if (resolved !== NO_VALUE) result[key] = resolved;
    }
    return result;
  }

  private resolveIntrinsic(name: string, args: unknown, path: string): unknown {
    const at = `${name} at ${path}`;
    switch (name) {
      case 'Ref':
        return this.ref(this.resolveString(args, at), at);
      case 'Fn::GetAtt':
        return this.getAtt(args, at);
      case 'Fn::Join': {
        const [delimiter, list] = this.argumentList(args, 2, at, '[delimiter, [values...]]');
        return this.resolveList(list, at)
          .map((item) => this.stringify(item, at))
          .join(this.resolveString(delimiter, at));
      }
      case 'Fn::Sub':
        return this.sub(args, at);
      case 'Fn::Select': {
        const [indexArg, list] = this.argumentList(args, 2, at, '[index, [values...]]');
        const index = Number(this.resolve(indexArg, at));
        const items = this.resolveList(list, at);
        if (!Number.isInteger(index) || index < 0 || index >= items.length) {
          throw new IntrinsicResolutionError(
            `${at}: index ${index} is outside the list of ${items.length} values`,
          );
        }
        return items[index];
      }
      case 'Fn::Split': {
        const [delimiter, source] = this.argumentList(args, 2, at, '[delimiter, string]');
        return this.resolveString(source, at).split(this.resolveString(delimiter, at));
      }
      case 'Fn::If': {
        const [condition, ifTrue, ifFalse] = this.argumentList(
          args,
          3,
          at,
          '[conditionName, valueIfTrue, valueIfFalse]',
        );
        const chosen = this.condition(this.resolveString(condition, at), at) ? ifTrue : ifFalse;
        return this.resolve(chosen, path);
      }
      case 'Fn::Equals':
      case 'Fn::Not':
      case 'Fn::And':
      case 'Fn::Or':
        return this.evaluateCondition({ [name]: args }, at);
      case 'Fn::FindInMap':
        return this.findInMap(args, at);
      case 'Fn::Base64':
        return Buffer.from(this.resolveString(args, at), 'utf8').toString('base64');
      case 'Fn::ImportValue':
        throw new IntrinsicResolutionError(
          `${at}: Fn::ImportValue ${JSON.stringify(args)} reads another stack's export, which does not exist ` +
            'locally. Pass the value through a stack parameter or a construct property instead.',
        );
      default:
        throw new IntrinsicResolutionError(
          `${at}: ${name} is not supported by the local resolver (local/cloudformation/intrinsics.ts); ` +
            'supported are Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If, Fn::Equals, ' +
            'Fn::Not, Fn::And, Fn::Or, Fn::FindInMap and Fn::Base64',
        );
    }
  }

  private ref(name: string, at: string): unknown {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name.startsWith('AWS::')) {
      const pseudo = this.context.pseudo as Record<string, unknown>;
      if (pseudo[name] !== undefined) return pseudo[name];
      throw new IntrinsicResolutionError(
        `${at}: pseudo parameter ${name} has no local value; add it to context.pseudo`,
      );
    }
    if (Object.prototype.hasOwnProperty.call(this.context.refs, name)) return this.context.refs[name];
    throw new IntrinsicResolutionError(
      `${at}: Ref "${name}" has no local value; ${this.context.missingValueHint ?? DEFAULT_MISSING_VALUE_HINT}`,
    );
  }

  private getAtt(args: unknown, at: string): unknown {
    let logicalId: string;
    let attribute: string;
    if (typeof args === 'string') {
      [logicalId, attribute] = splitAtFirstDot(args, at);
    } else {
      const [id, attr] = this.argumentList(args, 2, at, '[logicalId, attribute] or "logicalId.attribute"');
      logicalId = this.resolveString(id, at);
      attribute = this.resolveString(attr, at);
    }
    return this.attribute(logicalId, attribute, at);
  }

  private attribute(logicalId: string, attribute: string, at: string): unknown {
    const { getAtts } = this.context;
    const value =
      typeof getAtts === 'function'
        ? getAtts(logicalId, attribute)
        : Object.prototype.hasOwnProperty.call(getAtts, logicalId)
          ? getAtts[logicalId][attribute]
          : undefined;
    if (value !== undefined) return value;
    throw new IntrinsicResolutionError(
      `${at}: Fn::GetAtt ${logicalId}.${attribute} has no local value; ` +
        (this.context.missingValueHint ?? DEFAULT_MISSING_VALUE_HINT),
    );
  }

  /** `${Name}` is a Ref or a variable, `${Id.Attr}` a GetAtt, and `${!Text}` the literal `${Text}`. */
  private sub(args: unknown, at: string): string {
    let template: unknown = args;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(args)) {
      const [text, vars] = this.argumentList(args, 2, at, '"string" or ["string", {variables}]');
      if (!isPlainObject(vars)) throw new IntrinsicResolutionError(`${at}: the variables must be an object`);
      template = text;
      variables = vars;
    }
    if (typeof template !== 'string') {
      throw new IntrinsicResolutionError(
        `${at}: the template must be a string, got ${JSON.stringify(template)}`,
      );
    }
    return template.replace(/\$\{([^}]*)\}/g, (placeholder, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      const trimmed = name.trim();
      let value: unknown;
      if (Object.prototype.hasOwnProperty.call(variables, trimmed))
        value = this.resolve(variables[trimmed], at);
      else if (trimmed.includes('.') && !trimmed.startsWith('AWS::')) {
        value = this.attribute(...splitAtFirstDot(trimmed, at), at);
      } else value = this.ref(trimmed, at);
      return this.stringify(value, `${at} (${placeholder})`);
    });
  }

  private findInMap(args: unknown, at: string): unknown {
    const [map, topKey, secondKey] = this.argumentList(args, 3, at, '[mapName, topLevelKey, secondLevelKey]');
    const names = [map, topKey, secondKey].map((arg) => this.resolveString(arg, at));
    const value = this.context.mappings?.[names[0]]?.[names[1]]?.[names[2]];
    if (value === undefined) {
      throw new IntrinsicResolutionError(
        `${at}: Mappings.${names.join('.')} does not exist; pass the template's Mappings`,
      );
    }
    return value;
  }

  private condition(name: string, at: string): boolean {
    const cached = this.conditionCache.get(name);
    if (cached !== undefined) return cached;
    const conditions = this.context.conditions ?? {};
    if (!Object.prototype.hasOwnProperty.call(conditions, name)) {
      throw new IntrinsicResolutionError(
        `${at}: condition "${name}" is not defined; pass the template's Conditions (or a boolean) in context.conditions`,
      );
    }
    if (this.conditionsInProgress.has(name)) {
      throw new IntrinsicResolutionError(`${at}: condition "${name}" refers to itself`);
    }
    this.conditionsInProgress.add(name);
    const value = this.evaluateCondition(conditions[name], `Conditions.${name}`);
    this.conditionsInProgress.delete(name);
    this.conditionCache.set(name, value);
    return value;
  }

  /** Evaluates a condition expression: a boolean, `{Condition: name}`, or a condition function. */
  private evaluateCondition(expression: unknown, at: string): boolean {
    if (typeof expression === 'boolean') return expression;
    if (expression === 'true' || expression === 'false') return expression === 'true';
    const name = isPlainObject(expression) ? Object.keys(expression)[0] : undefined;
    const args = name === undefined ? undefined : (expression as Record<string, unknown>)[name];
    const operands = () => (Array.isArray(args) ? args : [args]);
    switch (name) {
      case 'Condition':
        return this.condition(this.resolveString(args, at), at);
      case 'Fn::Equals': {
        const [left, right] = this.argumentList(args, 2, at, '[value1, value2]');
        return JSON.stringify(this.resolve(left, at)) === JSON.stringify(this.resolve(right, at));
      }
      case 'Fn::Not':
        return !this.evaluateCondition(this.argumentList(args, 1, at, '[condition]')[0], at);
      case 'Fn::And':
        return operands().every((operand) => this.evaluateCondition(operand, at));
      case 'Fn::Or':
        return operands().some((operand) => this.evaluateCondition(operand, at));
      default: {
        const value = this.resolve(expression, at);
        if (typeof value === 'boolean') return value;
        throw new IntrinsicResolutionError(
          `${at}: expected a condition (Fn::Equals, Fn::Not, Fn::And, Fn::Or or {"Condition": name}), got ${JSON.stringify(expression)}`,
        );
      }
    }
  }

  private argumentList(args: unknown, count: number, at: string, usage: string): unknown[] {
    if (!Array.isArray(args) || args.length !== count) {
      throw new IntrinsicResolutionError(`${at}: expected ${usage}, got ${JSON.stringify(args)}`);
    }
    return args;
  }

  private resolveList(list: unknown, at: string): unknown[] {
    const resolved = this.resolve(list, at);
    if (!Array.isArray(resolved)) {
      throw new IntrinsicResolutionError(`${at}: expected a list, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  private resolveString(value: unknown, at: string): string {
    const resolved = this.resolve(value, at);
    if (typeof resolved !== 'string') {
      throw new IntrinsicResolutionError(`${at}: expected a string, got ${JSON.stringify(resolved)}`);
    }
    return resolved;
  }

  /** Values joined into strings: strings, numbers and booleans, as CloudFormation accepts them. */
  private stringify(value: unknown, at: string): string {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      return String(value);
    throw new IntrinsicResolutionError(
      `${at}: cannot put ${JSON.stringify(value) ?? String(value)} into a string; local values used in ` +
        'Fn::Join and Fn::Sub must be strings or numbers',
    );
  }
}

/** `Ref` or `Fn::...` when `value` is a single-key intrinsic function object. */
export function intrinsicName(value: Record<string, unknown>): string | undefined {
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::')) ? keys[0] : undefined;
}

function splitAtFirstDot(text: string, at: string): [string, string] {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) {
    throw new IntrinsicResolutionError(`${at}: expected "LogicalId.Attribute", got ${JSON.stringify(text)}`);
  }
  return [text.slice(0, dot), text.slice(dot + 1)];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}
