import { humanBytes } from '../../src/config/default-text.js';
import { DEFAULT_MAX_REQUEST_BYTES, TRANSPORTS } from '../../src/protocol/transport.js';
import { prose } from './markdown.js';

/** The transport section of docs/protocol.md, from TRANSPORTS (src/protocol/transport.ts). */
export function transportSection(): string {
  return [
    '## Transports',
    '',
    '| Transport | Framing | Auth | Enabled by | In this version |',
    '|---|---|---|---|---|',
    ...TRANSPORTS.map((t) => `| ${prose(t.name)} | ${prose(t.framing)} | ${prose(t.auth)} | ${prose(t.enabled)} | ${t.built ? 'yes' : 'not built yet'} |`),
    '',
    `- A request line, HTTP body or WebSocket message over \`max_request_bytes\` (default ${humanBytes(DEFAULT_MAX_REQUEST_BYTES)})`,
    '  is answered with `REQUEST_TOO_LARGE` and the connection is closed; no other bad line closes it.',
    '- Responses on one connection may arrive in any order: match them by `id`.',
    '- Events of a stream travel on the connection that opened the stream.',
  ].join('\n');
}
