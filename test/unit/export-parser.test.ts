import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { parseExportP, parseRecords } from '../../src/runtime/export-parser.js';
import { captureScript, parseCapturedState } from '../../src/runtime/state-capture.js';
import { removeShellLinks, skipMissing, testShells } from '../helpers/shells.js';
import { SHELL_OUTPUTS, VALUES } from './shell-output-fixtures.js';

const tricky: Record<string, string> = {
  NL: 'a\nb',
  TNL: 'x\n',
  CR: 'a\rb',
  QUOTES: `it's "quoted" \`tick\` $dollar \${brace} $(cmd) \\back \\\\two`,
  ONLY_QUOTE: "'",
  CTL: 'x\u0001\u001by\t\u007f',
  UNI: 'é☃🙂',
  C1: 'a\u0085b\u00a0c\u2028d',
  EMPTY: '',
  EQ: 'a=b=c',
  SPACES: '  lead  and trail  ',
  GLOB: '*?[a-z] ~root #x !! ; | & ( ) { }',
  DASH: '-n',
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

  for (const f of SHELL_OUTPUTS) {
    if (f.exportP === undefined) continue;
    it(`parses the real \`export -p\` of ${f.shell}`, () => {
      const env = parseExportP(Buffer.from(f.exportP!, 'latin1'));
      assert.deepEqual(Object.fromEntries(env!), { ...VALUES, ...f.others });
    });
  }
});

describe('parseRecords', () => {
  it('reads NUL-terminated NAME=value records, values with = and newlines intact', () => {
    const env = parseRecords(Buffer.from('A=x=y\0B=\0C=l1\nl2\0'));
    assert.deepEqual(Object.fromEntries(env!), { A: 'x=y', B: '', C: 'l1\nl2' });
  });

  it('returns null when the last record is cut short', () => {
    assert.equal(parseRecords(Buffer.from('A=1\0B=2')), null);
  });
});

describe('parseCapturedState', () => {
  for (const f of SHELL_OUTPUTS) {
    it(`parses what the trap of ${f.shell} wrote`, () => {
      const state = parseCapturedState(Buffer.from(f.captured, 'latin1'));
      assert.ok(state);
      assert.equal(state.cwd, '/');
      assert.deepEqual(Object.fromEntries(state.env), { ...VALUES, ...f.others });
    });
  }

  it('keeps a newline that ends the directory name itself', () => {
    assert.equal(parseCapturedState(Buffer.from('/tmp/a\n\n\0export A=1\n'))?.cwd, '/tmp/a\n');
    assert.equal(parseCapturedState(Buffer.from('/tmp/a\n\n\0A=1\0'))?.cwd, '/tmp/a\n');
  });

  it('is null without the NUL or with a relative cwd', () => {
    assert.equal(parseCapturedState(Buffer.from('/tmp\n')), null);
    assert.equal(parseCapturedState(Buffer.from('tmp\n\0')), null);
  });
});

describe('state capture round trip in each shell', () => {
  after(removeShellLinks);
  for (const shell of testShells()) {
    it(`${shell.name}: tricky values come back byte-exact from the environment and from export, with \`exit 7\``, (t) => {
      if (skipMissing(t, shell)) return;
      for (const locale of [{}, { LANG: 'C.UTF-8' }]) {
        const exports = Object.entries(tricky)
          .map(([k, v]) => `export ${k}_X='${v.replace(/'/g, `'\\''`)}'`)
          .join('\n');
        const r = spawnSync(shell.path!, ['-c', captureScript(`${exports}\ncd / && exit 7`)], {
          cwd: '/tmp',
          env: { PATH: '/usr/bin:/bin', ...locale, ...tricky, __TRL_TAG: 'tag' },
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        });
        assert.equal(r.status, 7, r.stderr.toString());
        assert.equal(r.stderr.toString(), '');
        const state = parseCapturedState(r.output[3] as Buffer);
        assert.ok(state, `no state from ${shell.name}: ${JSON.stringify((r.output[3] as Buffer).toString('latin1'))}`);
        assert.equal(state.cwd, '/');
        for (const [k, v] of Object.entries(tricky)) {
          assert.equal(state.env.get(k), v, `${k} (${JSON.stringify(locale)})`);
          assert.equal(state.env.get(`${k}_X`), v, `${k}_X (${JSON.stringify(locale)})`);
        }
        assert.equal(state.env.has('__TRL_TAG'), false, 'the tracking tag is left out');
      }
    });
  }
});
