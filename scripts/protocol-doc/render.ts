import { z } from 'zod';
import { ERROR_CODES, ERROR_MEANINGS } from '../../src/protocol/errors.js';
import { METHODS, type MethodSpec } from '../../src/protocol/methods.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { ENVELOPE, HEADER } from './intro.js';
import { fieldRows, typeName, type FieldRow, type JsonSchema } from './json-schema-rows.js';
import { cell, code, paramsTable, resultTable } from './markdown.js';
import { transportSection } from './transports.js';

/** JSON Schema of a zod schema; refinements are dropped, what cannot be expressed becomes `any`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', reused: 'inline', cycles: 'ref' }) as JsonSchema;
}

function errorSection(): string {
  return ['## Error codes', '', '| Code | Meaning |', '|---|---|', ...ERROR_CODES.map((c) => `| ${code(c)} | ${cell(ERROR_MEANINGS[c])} |`)].join('\n');
}

function alternativeLabel(alt: JsonSchema): string {
  const required = alt.required ?? [];
  return required.length > 0 ? `with ${required.map(code).join(', ')}` : code(typeName(alt));
}

/** A field table; a union of objects (e.g. "command_id or session_id") becomes one table per alternative. */
function schemaTables(schema: JsonSchema, table: (rows: FieldRow[]) => string): string {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (schema.properties === undefined && alternatives !== undefined) {
    return ['One of:', ...alternatives.map((alt, i) => `${i + 1}. ${alternativeLabel(alt)}\n\n${table(fieldRows(alt))}`)].join('\n\n');
  }
  if (schema.properties === undefined && schema.type !== 'object' && schema.type !== undefined) {
    return `Type ${code(typeName(schema))}.`;
  }
  return table(fieldRows(schema));
}

function methodSection(name: string, spec: MethodSpec): string {
  const lines = [`### ${code(name)}`, '', spec.summary];
  if (spec.streaming) lines.push('', 'Streaming: answers, then sends events on the same connection.');
  lines.push('', '**Params**', '', schemaTables(jsonSchema(spec.params, 'input'), paramsTable));
  lines.push('', '**Result** (`data`)', '', schemaTables(jsonSchema(spec.result, 'output'), resultTable));
  return lines.join('\n');
}

/** The whole of docs/protocol.md; deterministic, so `--check` can compare it byte for byte. */
export function renderProtocolDoc(): string {
  const methods: Array<[string, MethodSpec]> = Object.entries(METHODS);
  const index = ['| Method | Summary |', '|---|---|', ...methods.map(([name, spec]) => `| ${code(name)} | ${cell(spec.summary)}${spec.streaming ? ' (streaming)' : ''} |`)].join('\n');
  const sections = [
    HEADER,
    transportSection(),
    ENVELOPE,
    errorSection(),
    `## Methods\n\nProtocol implementation version ${code(PROTOCOL_VERSION)}.\n\n${index}`,
    ...methods.map(([name, spec]) => methodSection(name, spec)),
  ];
  return sections.join('\n\n') + '\n';
}
