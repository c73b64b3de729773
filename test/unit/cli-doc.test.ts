/**
 * docs/cli.md is generated from the commander definitions
 * (scripts/gen-cli-doc.ts); `--check` fails when it drifts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { commandPath, renderCliDoc } from '../../scripts/cli-doc/render.js';
import { createProgram } from '../../src/cli/program.js';

const script = fileURLToPath(new URL('../../scripts/gen-cli-doc.js', import.meta.url));
const parts = { exitTable: null, wordRule: null, defaultTexts: new Map<string, string>() };

function walk(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...walk(c)]);
}

describe('cli doc', () => {
  it('docs/cli.md is in step with the CLI (npm run docs regenerates it)', () => {
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('has a section for every command and names each of its options', async () => {
    const program = await createProgram(['node', 'trl', '--help']);
    const text = renderCliDoc(program, parts);
    for (const cmd of walk(program)) {
      const path = commandPath(cmd);
      const at = text.indexOf(`\n### \`${path}\`\n`);
      assert.ok(at >= 0, `no section for ${path}`);
      const next = text.indexOf('\n### ', at + 1);
      const section = text.slice(at, next < 0 ? undefined : next);
      for (const o of cmd.options) {
        if (o.hidden) continue;
        assert.ok(section.includes(`\`${o.flags.replace(/\|/g, '\\|')}\``) || section.includes(`\`${o.long}\``) || /the \d+ setting flags of/.test(section), `${path}: ${o.flags} is missing`);
      }
    }
  });

  it('takes the exit-status table and the word rule from the modules that own them, with a placeholder until they exist', async () => {
    const program = await createProgram(['node', 'trl', '--help']);
    const placeholders = renderCliDoc(program, parts);
    assert.match(placeholders, /## Exit status\n\n_To be generated from `EXIT_TABLE` in src\/cli\/exit-codes\.ts/);
    assert.match(placeholders, /## The words after `--`\n\n_To be generated from `WORD_RULE` in src\/cli\/word-rule\.ts/);
    const filled = renderCliDoc(program, { ...parts, exitTable: '| Status | Meaning |\n|---|---|\n| 125 | trl failed |\n', wordRule: 'One word is a shell command line.' });
    assert.match(filled, /## Exit status\n\n\| Status \| Meaning \|\n\|---\|---\|\n\| 125 \| trl failed \|\n/);
    assert.match(filled, /## The words after `--`\n\nOne word is a shell command line\.\n/);
  });

  it('shows a machine-dependent default as its description', async () => {
    const program = await createProgram(['node', 'trl', 'ping']);
    const socket = program.commands[0]!.options.find((o) => o.long === '--socket')!;
    const text = renderCliDoc(program, { ...parts, defaultTexts: new Map([[String(socket.defaultValue), 'the default socket']]) });
    assert.match(text, /\| `--socket <path>` \| .*; default the default socket \|/);
  });
});
