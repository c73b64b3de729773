import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseExportP } from '../../src/runtime/export-parser.js';
import { captureScript, parseCapturedState } from '../../src/runtime/state-capture.js';

const tricky: Record<string, string> = {
  NL: 'a\nb',
  QUOTES: `it's "quoted" \`tick\` $dollar \\back`,
  CTL: 'x\u0001\u001by\t',
  UNI: 'é☃🙂',
  EMPTY: '',
  EQ: 'a=b=c',
};

describe('parseExportP', () => {
  it('parses dash-style single-quoted output', () => {
    const env = parseExportP(Buffer.from(`export A='x y'"'"'z'\nexport NOVAL\nexport B=''\n`));
    assert.deepEqual(Object.fromEntries(env!), { A: "x y'z", B: '' });
  });

  it('parses bash-style declare -x with $-quotes and octal UTF-8 bytes', () => {
    const env = parseExportP(Buffer.from(`declare -x U=$'\\303\\251\\342\\230\\203'\ndeclare -x Q="a\\"b\\$c"\ndeclare -x OLDPWD\n`));
    assert.deepEqual(Object.fromEntries(env!), { U: 'é☃', Q: 'a"b$c' });
  });

  it('returns null on an unterminated quote', () => {
    assert.equal(parseExportP(Buffer.from(`export A='oops\n`)), null);
  });

  for (const shell of ['/bin/dash', '/bin/bash', '/bin/sh']) {
    it(`round-trips tricky values through ${shell}`, (t) => {
      if (!existsSync(shell)) return t.skip(`${shell} is not installed`);
      const r = spawnSync(shell, ['-c', captureScript('cd / && exit 7')], {
        env: { PATH: '/usr/bin:/bin', ...tricky },
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      });
      assert.equal(r.status, 7);
      const state = parseCapturedState(r.output[3] as Buffer);
      assert.ok(state);
      assert.equal(state.cwd, '/');
      for (const [k, v] of Object.entries(tricky)) assert.equal(state.env.get(k), v, k);
    });
  }
});
