import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const script = fileURLToPath(new URL('../../scripts/gen-protocol-doc.js', import.meta.url));

it('docs/protocol.md is in step with the schemas (npm run docs regenerates it)', () => {
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
