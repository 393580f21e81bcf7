/**
 * What an EventBridge rule target receives for an event: the target's `Input`, `InputPath` or
 * `InputTransformer` applied locally, following
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
 *
 * Substitution rules (the docs' examples table, and the note that EventBridge does not escape
 * extracted values):
 * - A bare placeholder (`"size": <size>`) becomes the value's JSON: `5`, `"a/b.txt"`, `{...}`.
 * - A placeholder inside a JSON string (`"key is <key>"`) becomes the value's JSON text with a
 *   string's surrounding quotes dropped, so a key containing `"` or `\` stays correctly escaped.
 *   Objects and arrays are inserted unescaped, as AWS does, which breaks the JSON; we then throw.
 * - A path that matches nothing: the docs say the variable "isn't created and won't appear in the
 *   output". Inside a string it becomes empty; a bare one becomes `null`, since dropping it would
 *   leave `"versionId":}`, which is not JSON and which AWS does not deliver.
 */

/** The `InputTransformer` of an `AWS::Events::Rule` target, as in the template. */
export interface InputTransformer {
  readonly InputPathsMap?: Readonly<Record<string, string>>;
  readonly InputTemplate: string;
}

/** The input-related properties of an `AWS::Events::Rule` target, as in the template. */
export interface RuleTargetInputProperties {
  /** Constant JSON text sent instead of the event. */
  readonly Input?: string;
  /** JSONPath selecting the part of the event to send. */
  readonly InputPath?: string;
  readonly InputTransformer?: InputTransformer;
}

/** Values for EventBridge's reserved template variables that cannot be read from the event. */
export interface ReservedVariableValues {
  /** For `<aws.events.rule-arn>`. */
  readonly ruleArn?: string;
  /** For `<aws.events.rule-name>`. */
  readonly ruleName?: string;
  /** For `<aws.events.event.ingestion-time>` (ISO 8601). Defaults to the time of the call. */
  readonly ingestionTime?: string;
}

/** The parsed JSON a target receives for `event`: `Input`, `InputPath`, `InputTransformer` or the event. */
export function targetInputFor(
  target: RuleTargetInputProperties,
  event: unknown,
  reserved: ReservedVariableValues = {},
): unknown {
  if (target.Input !== undefined) return parseJson(target.Input, 'the rule target\'s "Input"');
  if (target.InputPath !== undefined) return evaluateJsonPath(target.InputPath, event, 'InputPath') ?? null;
  if (target.InputTransformer !== undefined)
    return applyInputTransformer(target.InputTransformer, event, reserved);
  return event;
}

/**
 * Applies an EventBridge input transformer to `event` and returns the parsed JSON result.
 * Throws if a path is malformed or the filled-in template is not valid JSON.
 */
export function applyInputTransformer(
  transformer: InputTransformer,
  event: unknown,
  reserved: ReservedVariableValues = {},
): unknown {
  const template = transformer.InputTemplate;
  if (typeof template !== 'string') {
    throw new Error(
      `InputTransformer.InputTemplate must be a string, got ${JSON.stringify(template)}; ` +
        'resolve CloudFormation intrinsics in the target first (local/cloudformation/intrinsics.ts)',
    );
  }
  const variables = new Map<string, () => unknown>();
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) {
    const value = evaluateJsonPath(path, event, `InputPathsMap["${name}"]`);
    variables.set(name, () => value);
  }
  for (const [name, value] of Object.entries(reservedVariables(event, reserved))) variables.set(name, value);

  const filled = fillTemplate(template, variables);
  return parseJson(
    filled,
    `InputTemplate ${JSON.stringify(template)}, filled in for this event,`,
    'Check that every placeholder inside a JSON string ("...<name>...") holds a string or number, ' +
      'and that non-JSON text templates are not used for this target.',
  );
}

/** EventBridge's predefined variables; they win over InputPathsMap entries of the same name. */
function reservedVariables(event: unknown, reserved: ReservedVariableValues): Record<string, () => unknown> {
  const required = (value: string | undefined, name: string, option: keyof ReservedVariableValues) => () => {
    if (value !== undefined) return value;
    throw new Error(
      `The input template uses <${name}>; pass { ${option} } to applyInputTransformer/targetInputFor`,
    );
  };
  return {
    'aws.events.event': () => event,
    // "The exact payload of an event as a string": a JSON string holding the event's JSON.
    'aws.events.event.json': () => JSON.stringify(event),
    'aws.events.rule-arn': required(reserved.ruleArn, 'aws.events.rule-arn', 'ruleArn'),
    'aws.events.rule-name': required(reserved.ruleName, 'aws.events.rule-name', 'ruleName'),
    'aws.events.event.ingestion-time': () => reserved.ingestionTime ?? new Date().toISOString(),
  };
}

const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/y;

/**
 * Replaces `<name>` placeholders, tracking whether each sits inside a JSON string literal.
 * Unknown placeholders are left as they are, like EventBridge does.
 */
function fillTemplate(template: string, variables: ReadonlyMap<string, () => unknown>): string {
  let output = '';
  let insideString = false;
  for (let index = 0; index < template.length; index++) {
    const char = template[index];
    if (insideString && char === '\\') {
      output += template.slice(index, index + 2);
      index++;
      continue;
    }
    if (char === '"') insideString = !insideString;
    if (char === '<') {
      PLACEHOLDER.lastIndex = index;
      const match = PLACEHOLDER.exec(template);
      const variable = match && variables.get(match[1]);
      if (match && variable) {
        output += renderValue(variable(), insideString);
        index += match[0].length - 1;
        continue;
      }
    }
    output += char;
  }
  return output;
}

function renderValue(value: unknown, insideString: boolean): string {
  if (value === undefined) return insideString ? '' : 'null';
  const json = JSON.stringify(value);
  return insideString && typeof value === 'string' ? json.slice(1, -1) : json;
}

// ---------------------------------------------------------------------------------------------
// JSONPath, the subset EventBridge documents: `$`, dot names (with dashes etc.), array indices,
// bracketed quoted names, and `*` wildcards (which collect every match into an array).

type PathStep = { kind: 'name'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

/**
 * The value at `path` in `event`, or `undefined` if nothing matches. `where` names the path's
 * origin in error messages (e.g. `InputPathsMap["key"]`).
 */
export function evaluateJsonPath(path: string, event: unknown, where = 'JSONPath'): unknown {
  const steps = parseJsonPath(path, where);
  let matches: unknown[] = [event];
  for (const step of steps) matches = matches.flatMap((node) => stepInto(node, step));
  if (steps.some((step) => step.kind === 'wildcard')) return matches.length > 0 ? matches : undefined;
  return matches[0];
}

function stepInto(node: unknown, step: PathStep): unknown[] {
  if (step.kind === 'wildcard') {
    if (Array.isArray(node)) return node;
    return typeof node === 'object' && node !== null ? Object.values(node) : [];
  }
  if (step.kind === 'index') return Array.isArray(node) && step.index < node.length ? [node[step.index]] : [];
  const isObject = typeof node === 'object' && node !== null && !Array.isArray(node);
  return isObject && Object.prototype.hasOwnProperty.call(node, step.name)
    ? [(node as Record<string, unknown>)[step.name]]
    : [];
}

const PATH_STEP = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]|\[\*\]/y;

function parseJsonPath(path: string, where: string): PathStep[] {
  if (typeof path !== 'string' || !path.startsWith('$')) {
    throw new Error(
      `${where}: ${JSON.stringify(path)} is not a JSONPath; it must start with "$", e.g. "$.detail.key"`,
    );
  }
  const steps: PathStep[] = [];
  let index = 1;
  while (index < path.length) {
    PATH_STEP.lastIndex = index;
    const match = PATH_STEP.exec(path);
    if (!match) {
      throw new Error(
        `${where}: cannot read JSONPath ${JSON.stringify(path)} at position ${index}; ` +
          'use dot notation ($.detail.object.key), indices ($.resources[0]) or * wildcards',
      );
    }
    const [, dotName, arrayIndex, singleQuoted, doubleQuoted] = match;
    const quotedName = unescapeQuoted(singleQuoted ?? doubleQuoted);
    if (dotName === '*') steps.push({ kind: 'wildcard' });
    else if (dotName !== undefined) steps.push({ kind: 'name', name: dotName });
    else if (quotedName !== undefined) steps.push({ kind: 'name', name: quotedName });
    else if (arrayIndex !== undefined) steps.push({ kind: 'index', index: Number(arrayIndex) });
    else steps.push({ kind: 'wildcard' });
    index = PATH_STEP.lastIndex;
  }
  return steps;
}

function unescapeQuoted(text: string | undefined): string | undefined {
  return text?.replace(/\\(.)/g, '$1');
}

function parseJson(text: string, what: string, hint = ''): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${what} is not valid JSON (${(error as Error).message}).\nText: ${text}` + (hint ? `\n${hint}` : ''),
      { cause: error },
    );
  }
}
