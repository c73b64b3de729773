/**
 * `npm run docs`: write docs/protocol.md from the protocol schemas.
 * `npm run docs:check` (this script with `--check`): exit 1 if docs/protocol.md is not what would be written.
 */
import { runDocGenerator } from './doc-file.js';
import { renderProtocolDoc } from './protocol-doc/render.js';

runDocGenerator('gen-protocol-doc', { path: 'docs/protocol.md', source: 'src/protocol', render: () => renderProtocolDoc() });
