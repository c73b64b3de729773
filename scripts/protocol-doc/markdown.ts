import type { FieldRow } from './json-schema-rows.js';

/** Escape what would break a Markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Prose from schema descriptions: also keep `<shell>` from reading as HTML and `*X*` as emphasis (code spans untouched). */
export function prose(text: string): string {
  return cell(
    text
      .split(/(`[^`]*`)/)
      .map((part, i) => (i % 2 === 1 ? part : part.replace(/[<>*]/g, (c) => `\\${c}`)))
      .join(''),
  );
}

export function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

export function paramsTable(rows: readonly FieldRow[]): string {
  if (rows.length === 0) return '_No parameters._';
  return [
    '| Name | Type | Required | Description |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${cell(code(r.name))} | ${cell(code(r.type))} | ${r.required ? 'yes' : 'no'} | ${prose(r.description)} |`),
  ].join('\n');
}

export function resultTable(rows: readonly FieldRow[]): string {
  if (rows.length === 0) return '_Empty object._';
  return [
    '| Field | Type | Always present | Description |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${cell(code(r.name))} | ${cell(code(r.type))} | ${r.required ? 'yes' : 'no'} | ${prose(r.description)} |`),
  ].join('\n');
}
