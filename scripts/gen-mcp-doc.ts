/**
 * `npm run docs`: write the tool reference of docs/mcp.md (between
 * `<!-- mcp-tools:begin -->` and `<!-- mcp-tools:end -->`) from the MCP
 * server in src/mcp, as its tools/list shows them.
 * `--check` (`npm run docs:check`): exit 1 if it is not what would be written.
 */
import { replaceRegion, runDocGenerator } from './doc-file.js';
import { loadMcpDocInput } from './mcp-doc/load.js';
import { BEGIN, END, renderMcpTools } from './mcp-doc/render.js';

const PATH = 'docs/mcp.md';
const input = await loadMcpDocInput();

runDocGenerator('gen-mcp-doc', {
  path: PATH,
  source: 'src/mcp',
  render: (current) => {
    if (current === null) throw new Error(`${PATH} is missing; it holds hand-written prose around the generated tool reference, so restore it from git`);
    return replaceRegion(current, BEGIN, END, renderMcpTools(input), PATH);
  },
});
