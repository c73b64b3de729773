/**
 * `npm run docs`: write docs/cli.md from the CLI's commander definitions.
 * `--check` (`npm run docs:check`): exit 1 if docs/cli.md is not what would be written.
 */
import { runDocGenerator } from './doc-file.js';
import { loadCliDocInput } from './cli-doc/load.js';
import { renderCliDoc } from './cli-doc/render.js';

const { program, parts } = await loadCliDocInput();
runDocGenerator('gen-cli-doc', { path: 'docs/cli.md', source: 'src/cli', render: () => renderCliDoc(program, parts) });
