/**
 * Every declared error code is thrown somewhere in src/: a code for a feature
 * that is not built yet is declared with the feature, not before.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { ERROR_CODES } from '../../src/protocol/errors.js';

/** dist/test/unit → the repository's src/ (the TypeScript sources). */
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

it('each error code is used outside errors.ts', () => {
  const files = sources(SRC).filter((f) => !f.endsWith(join('protocol', 'errors.ts')));
  assert.ok(files.length > 20, `found only ${files.length} sources under ${SRC}`);
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = ERROR_CODES.filter((c) => !text.includes(`'${c}'`));
  assert.deepEqual(unused, [], `declared but never used: ${unused.join(', ')}; remove them until the feature that returns them is built`);
});
