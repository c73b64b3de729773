/**
 * What the doc generators share: `--check` or write, messages, exit status.
 * Each renders the whole wanted file from its current text (a generator that
 * owns only a marked region keeps the rest).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/scripts/*.js → the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DocFile {
  /** Path from the repository root, e.g. `docs/protocol.md`. */
  path: string;
  /** Where it comes from, for the out-of-date message, e.g. `src/protocol`. */
  source: string;
  render(current: string | null): string;
}

async function generate(doc: DocFile, check: boolean): Promise<number> {
  const file = join(REPO_ROOT, doc.path);
  const current = await readFile(file, 'utf8').catch(() => null);
  const wanted = doc.render(current);
  if (check) {
    if (current === wanted) return 0;
    process.stderr.write(
      current === null ? `${doc.path} is missing; run \`npm run docs\` to generate it\n` : `${doc.path} is out of date with ${doc.source}; run \`npm run docs\` and commit the result\n`,
    );
    return 1;
  }
  if (current !== wanted) await writeFile(file, wanted);
  process.stdout.write(`${current === wanted ? 'unchanged' : 'wrote'} ${doc.path}\n`);
  return 0;
}

/** The command line of a generator: `[--check]`; exits 0, 1 (out of date) or 2 (usage, or a bug). */
export function runDocGenerator(name: string, doc: DocFile): void {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`unknown option ${unknown[0]}\nusage: ${name} [--check]\n`);
    process.exit(2);
  }
  generate(doc, argv.includes('--check')).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}

/** `text` with what lies between the two marker lines replaced by `body`; an error that says what to add if they are missing. */
export function replaceRegion(text: string, begin: string, end: string, body: string, path: string): string {
  const from = text.indexOf(begin);
  const to = text.indexOf(end, from + begin.length);
  if (from < 0 || to < 0 || text.indexOf(begin, from + begin.length) >= 0) {
    throw new Error(`${path} must hold exactly one ${begin} … ${end} region, each marker on its own line; add them where the generated text goes`);
  }
  return `${text.slice(0, from + begin.length)}\n${body}\n${text.slice(to)}`;
}
