/**
 * The generated part of docs/mcp.md: every tool as `tools/list` shows it —
 * its description, its annotations, a table of its arguments (the input
 * schema) and one of what it returns (the output schema, `structuredContent`)
 * — and the instructions the server gives the model.
 */
import type { Tool } from '@modelcontextprotocol/client';
import { fieldRows, type JsonSchema } from '../protocol-doc/json-schema-rows.js';
import { cell, code, paramsTable, resultTable } from '../protocol-doc/markdown.js';
import type { McpDocInput } from './load.js';

export const BEGIN = '<!-- mcp-tools:begin -->';
export const END = '<!-- mcp-tools:end -->';

const HINTS: Array<[keyof NonNullable<Tool['annotations']>, string]> = [
  ['readOnlyHint', 'read-only'],
  ['destructiveHint', 'destructive'],
  ['idempotentHint', 'idempotent'],
  ['openWorldHint', 'open world'],
];

export function renderMcpTools(input: McpDocInput): string {
  const index = ['| Tool | Title | Read-only | Destructive | Idempotent |', '|---|---|---|---|---|', ...input.tools.map(indexRow)].join('\n');
  const sections: string[] = [];
  const outputs = new Map<string, string>();
  for (const tool of input.tools) {
    const key = JSON.stringify(tool.outputSchema ?? null);
    sections.push(toolSection(tool, outputs.get(key)));
    if (!outputs.has(key)) outputs.set(key, tool.name);
  }
  return [
    '<!-- Generated from src/mcp (tools/list of the real server) by `npm run docs` (scripts/gen-mcp-doc.ts): edit the tools and their schemas, not this region. -->',
    '',
    index,
    '',
    ...sections.flatMap((s) => [s, '']),
    '### What the server tells the model',
    '',
    'Sent as the `instructions` of its `initialize` answer:',
    '',
    quote(input.instructions),
  ].join('\n');
}

function yesNo(value: boolean | undefined): string {
  return value === undefined ? '—' : value ? 'yes' : 'no';
}

function indexRow(t: Tool): string {
  const a = t.annotations ?? {};
  return `| [${code(t.name)}](#${t.name}) | ${cell(t.title ?? '')} | ${yesNo(a.readOnlyHint)} | ${yesNo(a.destructiveHint)} | ${yesNo(a.idempotentHint)} |`;
}

function toolSection(t: Tool, sameOutputAs: string | undefined): string {
  const a = t.annotations ?? {};
  const hints = HINTS.filter(([k]) => typeof a[k] === 'boolean').map(([k, label]) => `${label}: ${yesNo(a[k] as boolean)}`);
  const lines = [`### ${t.name}`, '', `**${t.title ?? t.name}.** ${hints.length > 0 ? `Annotations: ${hints.join(', ')}.` : ''}`.trimEnd(), '', quote(t.description ?? '')];
  lines.push('', '**Arguments**', '', paramsTable(fieldRows(t.inputSchema as JsonSchema)));
  lines.push('', '**Returns** (`structuredContent`; the text content renders the same for the model)', '');
  if (!t.outputSchema) lines.push('_No output schema: text content only._');
  else if (sameOutputAs !== undefined) lines.push(`The same fields as [${code(sameOutputAs)}](#${sameOutputAs}).`);
  else lines.push(resultTable(fieldRows(t.outputSchema as JsonSchema)));
  return lines.join('\n');
}

/** A block quote of a text written for the model, line breaks kept. */
function quote(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((l) => (l.length > 0 ? `> ${l}` : '>'))
    .join('  \n');
}
