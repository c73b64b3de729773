/**
 * `npm run docs`: write docs/protocol.md from the protocol schemas.
 * `npm run docs -- --check`: exit 1 if docs/protocol.md is not what would be written.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderProtocolDoc } from './protocol-doc/render.js';

/** dist/scripts/gen-protocol-doc.js → the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = join(REPO_ROOT, 'docs', 'protocol.md');

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`unknown option ${unknown[0]}\nusage: gen-protocol-doc [--check]\n`);
    return 2;
  }
  const wanted = renderProtocolDoc();
  if (argv.includes('--check')) {
    const current = await readFile(DOC, 'utf8').catch(() => null);
    if (current === wanted) return 0;
    process.stderr.write(
      current === null
        ? 'docs/protocol.md is missing; run `npm run docs` to generate it\n'
        : 'docs/protocol.md is out of date with src/protocol; run `npm run docs` and commit the result\n',
    );
    return 1;
  }
  await mkdir(dirname(DOC), { recursive: true });
  await writeFile(DOC, wanted);
  process.stdout.write(`wrote ${DOC}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gen-protocol-doc: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(2);
  },
);
