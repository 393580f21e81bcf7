import { XmlShapeSerializer } from '@aws-sdk/core/protocols';
import type { NormalizedSchema } from '@smithy/core/schema';

import type { AwsServiceError } from '../aws-service';
import type { WireModel } from './wire-models';
import { endpointError, queryErrorOf, type WireResponse } from './wire-response';

/**
 * The AWS query protocol: `Action=<Action>&Version=...` and the input flattened into form fields
 * (`AttributeName.1=All`, `Stacks.member.1...`), form-encoded in the body of a POST or in a GET's
 * query string; the answer `<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>`
 * in XML; an error `<ErrorResponse><Error><Type>Sender</Type><Code>...` with its HTTP status.
 *
 * The decoder is the inverse of the SDK's QueryShapeSerializer (@aws-sdk/core), written here because
 * the SDK only writes these requests and no maintained library parses them; the answers are written
 * by the SDK's own XmlShapeSerializer from the operation's output schema.
 */

export function decodeQueryRequest(form: URLSearchParams, input: NormalizedSchema): Record<string, unknown> {
  const fields = new Map(form);
  // Every dotted prefix of a field name, so "is anything under Entries.3?" is one lookup.
  const prefixes = new Set<string>();
  for (const name of fields.keys()) {
    const parts = name.split('.');
    for (let i = 1; i <= parts.length; i++) prefixes.add(parts.slice(0, i).join('.'));
  }
  const read = (schema: NormalizedSchema, name: string): unknown => {
    if (schema.isStructSchema()) {
      const struct: Record<string, unknown> = {};
      for (const [memberName, member] of schema.structIterator()) {
        const key = (member.getMergedTraits().xmlName as string | undefined) ?? memberName;
        const path = name ? `${name}.${key}` : key;
        if (prefixes.has(path)) struct[memberName] = read(member, path);
      }
      return struct;
    }
    if (schema.isListSchema()) {
      if (fields.get(name) === '') return [];
      const member = schema.getValueSchema();
      const flat = Boolean(schema.getMergedTraits().xmlFlattened);
      const base = flat ? name : `${name}.${(member.getMergedTraits().xmlName as string) ?? 'member'}`;
      const items: unknown[] = [];
      for (let i = 1; prefixes.has(`${base}.${i}`); i++) items.push(read(member, `${base}.${i}`));
      return items;
    }
    if (schema.isMapSchema()) {
      const flat = Boolean(schema.getMergedTraits().xmlFlattened);
      const keyName = (schema.getKeySchema().getMergedTraits().xmlName as string) ?? 'key';
      const valueName = (schema.getValueSchema().getMergedTraits().xmlName as string) ?? 'value';
      const base = flat ? name : `${name}.entry`;
      const map: Record<string, unknown> = {};
      for (let i = 1; prefixes.has(`${base}.${i}`); i++) {
        const key = fields.get(`${base}.${i}.${keyName}`);
        if (key !== undefined) map[key] = read(schema.getValueSchema(), `${base}.${i}.${valueName}`);
      }
      return map;
    }
    return scalar(schema, name, fields.get(name));
  };
  return read(input, '') as Record<string, unknown>;
}

function scalar(schema: NormalizedSchema, name: string, value: string | undefined): unknown {
  if (value === undefined) return undefined;
  if (schema.isNumericSchema()) {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number)) {
      throw endpointError(
        'invalidParameter',
        'query',
        `Value (${value}) for parameter ${name} is invalid: not a number`,
      );
    }
    return number;
  }
  if (schema.isBooleanSchema()) {
    if (value !== 'true' && value !== 'false') {
      throw endpointError(
        'invalidParameter',
        'query',
        `Value (${value}) for parameter ${name} is invalid: use true or false`,
      );
    }
    return value === 'true';
  }
  if (schema.isTimestampSchema()) {
    const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) {
      throw endpointError(
        'invalidParameter',
        'query',
        `Value (${value}) for parameter ${name} is invalid: not a timestamp`,
      );
    }
    return date;
  }
  if (schema.isBlobSchema()) return Buffer.from(value, 'base64');
  return value;
}

export function encodeQueryResponse(
  model: WireModel,
  action: string,
  output: NormalizedSchema,
  value: Record<string, unknown>,
  requestId: string,
): WireResponse {
  let result = '';
  if (!output.isUnitSchema()) {
    const serializer = new XmlShapeSerializer({
      // No namespace on the inner element: the <ActionResponse> around it carries it.
      xmlNamespace: '',
      serviceNamespace: model.namespace,
      timestampFormat: { useTrait: true, default: 5 /* date-time */ },
    });
    serializer.write(output, value);
    // The serializer names the element after the output shape (DescribeStacksOutput); the query
    // protocol names it <Action>Result.
    const xml = String(serializer.flush());
    const shape = output.getName()!;
    const inner = xml.startsWith(`<${shape}/>`) ? '' : xml.slice(shape.length + 2, -(shape.length + 3));
    result = `<${action}Result>${inner}</${action}Result>`;
  }
  return xmlResponse(
    200,
    requestId,
    `<${action}Response xmlns="${model.query!.xmlNamespace}">${result}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  );
}

export function encodeQueryError(model: WireModel | undefined, error: AwsServiceError, requestId: string) {
  const { code, status } = model
    ? queryErrorOf(model, error)
    : { code: error.code, status: error.statusCode };
  const xmlns = model?.query ? ` xmlns="${model.query.xmlNamespace}"` : '';
  return xmlResponse(
    status,
    requestId,
    `<ErrorResponse${xmlns}><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
      `<Code>${escapeXml(code)}</Code><Message>${escapeXml(error.message)}</Message><Detail/></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`,
  );
}

function xmlResponse(status: number, requestId: string, xml: string): WireResponse {
  return {
    status,
    headers: { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId },
    body: `<?xml version="1.0"?>\n${xml}`,
  };
}

function escapeXml(text: string): string {
  // Element text: only these three need escaping.
  return text.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);
}
