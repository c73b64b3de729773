/**
 * Flatten a JSON Schema (as produced by zod's toJSONSchema) into the rows of a
 * Markdown field table: nested objects become dotted names (`limits.pids`),
 * array items `[]`, map values `*`.
 */
export interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

export interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function hasFields(s: JsonSchema): boolean {
  return s.properties !== undefined && Object.keys(s.properties).length > 0;
}

function mapValue(s: JsonSchema): JsonSchema | undefined {
  return typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}

function union(members: JsonSchema[]): string {
  return members.map((m) => typeName(m)).join(' | ');
}

/** A short TypeScript-like name for a schema's type. */
export function typeName(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.anyOf !== undefined) return union(s.anyOf);
  if (s.oneOf !== undefined) return union(s.oneOf);
  if (s.allOf !== undefined) return s.allOf.map((m) => typeName(m)).join(' & ');
  if (Array.isArray(s.type)) return s.type.join(' | ');
  switch (s.type) {
    case 'array': {
      const item = s.items ? typeName(s.items) : 'any';
      return item.includes(' ') ? `(${item})[]` : `${item}[]`;
    }
    case 'object': {
      const value = mapValue(s);
      if (value && !hasFields(s)) return `{ [key: string]: ${typeName(value)} }`;
      return 'object';
    }
    case undefined:
      return 'any';
    default:
      return s.type;
  }
}

/** Constraints that the type name does not show, as short phrases. */
function constraints(s: JsonSchema): string[] {
  const out: string[] = [];
  if (s.minimum !== undefined && s.minimum !== -MAX_SAFE) out.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum !== MAX_SAFE) out.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined && s.maxLength !== undefined) out.push(`${s.minLength}–${s.maxLength} characters`);
  else if (s.minLength !== undefined && s.minLength > 0) out.push('non-empty');
  else if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.minItems !== undefined && s.minItems > 0) out.push(`at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`);
  if (s.pattern !== undefined) out.push(`matches \`${s.pattern}\``);
  if (s.format !== undefined) out.push(`format ${s.format}`);
  if (s.items?.pattern !== undefined) out.push(`each matches \`${s.items.pattern}\``);
  if (s.propertyNames?.pattern !== undefined) out.push(`keys match \`${s.propertyNames.pattern}\``);
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out;
}

function describe(s: JsonSchema): string {
  const parts = [s.description, ...constraints(s)].filter((p): p is string => p !== undefined && p !== '');
  return parts.join('; ');
}

/** The rows of an object schema's fields, depth first. */
export function fieldRows(schema: JsonSchema, prefix = ''): FieldRow[] {
  const rows: FieldRow[] = [];
  const required = new Set(schema.required ?? []);
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const name = prefix + key;
    rows.push({ name, type: typeName(field), required: required.has(key), description: describe(field) });
    rows.push(...nestedRows(field, name));
  }
  return rows;
}

function nestedRows(field: JsonSchema, name: string): FieldRow[] {
  if (hasFields(field)) return fieldRows(field, `${name}.`);
  if (field.type === 'array' && field.items && hasFields(field.items)) return fieldRows(field.items, `${name}[].`);
  const value = mapValue(field);
  if (field.type === 'object' && value && hasFields(value)) return fieldRows(value, `${name}.*.`);
  for (const member of field.anyOf ?? []) if (hasFields(member)) return fieldRows(member, `${name}.`);
  return [];
}
