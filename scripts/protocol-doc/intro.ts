/** The fixed prose at the top of docs/protocol.md: a condensed PROTOCOL.md §1–2. */
export const INTRO = `# trl protocol reference

> Generated from \`src/protocol/\` by \`npm run docs\` (scripts/gen-protocol-doc.ts).
> Do not edit by hand: change the schemas and rerun the generator.
> \`npm run docs -- --check\` fails when this file is out of date.

## Transports

| Transport | Framing | Auth | In this version |
|---|---|---|---|
| Unix socket (default) | NDJSON: one JSON object per line (UTF-8, \`\\n\`) in both directions; many requests per connection, pipelined | socket \`0600\` in a \`0700\` directory owned by the daemon's user | available |
| HTTP | \`POST /v1/rpc\`, one request envelope → one response envelope; streaming methods answer \`application/x-ndjson\` (the response, then one event per line) | \`Authorization: Bearer <TRL_AUTH_TOKEN>\` on every request | planned (issue: HTTP and WebSocket transport) |
| WebSocket | \`GET /v1/ws\` upgrade; one text frame carries what one NDJSON line carries | bearer token on the upgrade request | planned |
| stdio | \`trl rpc\` reads NDJSON requests on stdin, writes responses and events on stdout | the caller's own process | planned |

- A request line over \`max_request_bytes\` (default 16 MiB) is answered with
  \`REQUEST_TOO_LARGE\` and the connection is closed; no other bad line closes it.
- Responses on one connection may arrive in any order: match them by \`id\`.
- Events of a stream travel on the connection that opened the stream.

## Envelope

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
\`exit_code\` in the data (unless \`check: true\`).
`;
