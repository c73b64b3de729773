/**
 * `npm run docs`: write the settings tables of docs/operations.md (between
 * `<!-- settings:begin -->` and `<!-- settings:end -->`) from src/config/config-schema.ts.
 * `--check` (`npm run docs:check`): exit 1 if they are not what would be written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, replaceRegion, runDocGenerator } from './doc-file.js';
import { headingsOf, type Headings } from './settings-doc/anchors.js';
import { BEGIN, END, renderSettings } from './settings-doc/render.js';

const PATH = 'docs/operations.md';

function docHeadings(): Map<string, Headings> {
  const dir = join(REPO_ROOT, 'docs');
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .map((f) => [f, headingsOf(readFileSync(join(dir, f), 'utf8'))]),
  );
}

runDocGenerator('gen-settings-doc', {
  path: PATH,
  source: 'src/config/config-schema.ts',
  render: (current) => {
    if (current === null) throw new Error(`${PATH} is missing; it holds hand-written prose around the generated settings tables, so restore it from git`);
    return replaceRegion(current, BEGIN, END, renderSettings(docHeadings()), PATH);
  },
});
