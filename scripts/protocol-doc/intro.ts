/** The fixed prose of docs/protocol.md: its header, and the envelope every transport carries. */
export const HEADER = `# trl protocol reference

> Generated from \`src/protocol/\` by \`npm run docs\` (scripts/gen-protocol-doc.ts).
> Do not edit by hand: change the schemas and rerun the generator.
> \`npm run docs:check\` fails when this file is out of date.`;

export const ENVELOPE = `## Envelope

Request: \`{"id": "req-1", "method": "exec.run", "params": {"session_id": "…", "command": "ls"}}\`

- \`id\`: string or integer, echoed back unchanged; a request without a usable
  \`id\` is answered with \`id: null\`.
- \`params\`: object, may be omitted (same as \`{}\`). Unknown fields are
  rejected with \`INVALID_PARAMS\` naming the field.

Success: \`{"id": "req-1", "ok": true, "data": {…}}\`

Error: \`{"id": "req-1", "ok": false, "error": {"code": "SESSION_NOT_FOUND", "message": "…", "details": {…}}}\`
— \`message\` is one actionable sentence; \`details\` is optional and
machine-readable.

Event (after a streaming method answered \`ok\`):
\`{"stream_id": "st-…", "event": "stdout", "data": "hello\\n", "offset": 0}\`

A non-zero exit of a command is not an error: it is \`ok: true\` with
\`exit_code\` in the data (unless \`check: true\`).`;
