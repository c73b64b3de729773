/**
 * docs/operations.md's settings tables are generated from the config schema
 * (scripts/gen-settings-doc.ts); `--check` fails when they drift.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { replaceRegion } from '../../scripts/doc-file.js';
import { anchorOf, headingsOf } from '../../scripts/settings-doc/anchors.js';
import { renderSettings } from '../../scripts/settings-doc/render.js';
import { CONFIG_ENV } from '../../src/config/config-schema.js';

const script = fileURLToPath(new URL('../../scripts/gen-settings-doc.js', import.meta.url));

/** Every page a `see` may name, each with the sections it links to. */
const DOCS = new Map([
  ['security.md', headingsOf("## Isolation tiers\n### Workspaces\n### Limits\n### Audit log\n### The sandbox's warm pool\n")],
  ['operations.md', headingsOf('## Over HTTP\n')],
  ['docker-tier.md', headingsOf('## Remote engines\n')],
]);

describe('settings doc', () => {
  it('docs/operations.md is in step with the config schema (npm run docs regenerates it)', () => {
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('has one row per setting, naming its flag and variable', () => {
    const text = renderSettings(DOCS);
    for (const env of Object.values(CONFIG_ENV)) {
      const rows = text.split('\n').filter((l) => l.includes(`\`${env}\``) || l.includes(`\`${env}=`));
      assert.equal(rows.length, 1, `${env}: ${rows.length} rows`);
    }
    assert.match(text, /\| `--no-unix-socket` \| `TRL_UNIX_SOCKET=0` \| on \|/);
    assert.match(text, /\| `--max-output-bytes <bytes>` \| `TRL_MAX_OUTPUT_BYTES` \| 4 MiB \|/);
    assert.match(text, /\| `--max-idle-s <seconds>` \| `TRL_MAX_IDLE_S` \| .*`--max-idle-sec`, `TRL_MAX_IDLE_SEC`/);
    assert.match(text, /\[Workspaces\]\(security\.md#workspaces\)/);
    assert.match(text, /\[Over HTTP\]\(#over-http\)/);
  });

  it('refuses a link to a section that does not exist', () => {
    assert.throws(() => renderSettings(new Map([['operations.md', headingsOf('## Over HTTP\n')]])), /security\.md#.*no such section/);
  });

  it('GitHub anchors of headings', () => {
    assert.equal(anchorOf('Over HTTP'), 'over-http');
    assert.equal(anchorOf('Hardening review: attacks and defences'), 'hardening-review-attacks-and-defences');
    assert.equal(anchorOf('`exec.run`'), 'execrun');
  });

  it('replaces only the marked region, and says what to add when the markers are missing', () => {
    const doc = 'before\n<!-- b -->\nold\n<!-- e -->\nafter\n';
    assert.equal(replaceRegion(doc, '<!-- b -->', '<!-- e -->', 'new', 'x.md'), 'before\n<!-- b -->\nnew\n<!-- e -->\nafter\n');
    assert.throws(() => replaceRegion('no markers\n', '<!-- b -->', '<!-- e -->', 'new', 'x.md'), /x\.md must hold exactly one <!-- b --> … <!-- e --> region/);
  });
});
