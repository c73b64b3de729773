import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IgnoreStack, parseGitignore } from '../../src/tiers/shared/files/gitignore.js';
import { globRegex, pathMatcher } from '../../src/tiers/shared/files/glob.js';

describe('globs (fs.search, fs.grep file filters, .gitignore)', () => {
  const yes = (glob: string, path: string) => assert.ok(globRegex(glob).test(path), `${glob} should match ${path}`);
  const no = (glob: string, path: string) => assert.ok(!globRegex(glob).test(path), `${glob} should not match ${path}`);

  it('* and ? stay within one name; a dot is not special', () => {
    yes('*.ts', 'a.ts');
    yes('*.ts', '.hidden.ts');
    no('*.ts', 'dir/a.ts');
    yes('a?c', 'abc');
    no('a?c', 'a/c');
  });

  it('** spans directories: leading, middle, trailing', () => {
    yes('**/*.ts', 'a.ts');
    yes('**/*.ts', 'x/y/a.ts');
    yes('src/**/b', 'src/b');
    yes('src/**/b', 'src/x/y/b');
    no('src/**/b', 'srcx/b');
    yes('src/**', 'src/a/b');
    no('src/**', 'src');
  });

  it('classes, negated classes, braces and escapes', () => {
    yes('[ab].txt', 'a.txt');
    no('[ab].txt', 'c.txt');
    yes('[!ab].txt', 'c.txt');
    no('[!ab].txt', 'a.txt');
    yes('*.{ts,js}', 'x.js');
    no('*.{ts,js}', 'x.css');
    yes('\\*.md', '*.md');
    no('\\*.md', 'a.md');
    yes('a[.]b', 'a.b');
  });

  it('a pattern without / matches the name at any depth, with one the path', () => {
    const byName = pathMatcher('*.ts');
    assert.ok(byName('deep/er/x.ts', 'x.ts'));
    const byPath = pathMatcher('src/*.ts');
    assert.ok(byPath('src/x.ts', 'x.ts'));
    assert.ok(!byPath('lib/src/x.ts', 'x.ts'));
  });
});

describe('.gitignore rules', () => {
  const stack = (text: string, base = '') => IgnoreStack.empty().with(base, text);

  it('skips comments and blank lines, matches names at any depth', () => {
    assert.equal(parseGitignore('# comment\n\n*.log\n').length, 1);
    const s = stack('*.log\n');
    assert.ok(s.ignores('a.log', false));
    assert.ok(s.ignores('deep/b.log', false));
    assert.ok(!s.ignores('a.txt', false));
  });

  it('anchors a pattern with a slash to its directory', () => {
    const s = stack('/build\nsrc/gen\n');
    assert.ok(s.ignores('build', true));
    assert.ok(!s.ignores('lib/build', true));
    assert.ok(s.ignores('src/gen', true));
    assert.ok(!s.ignores('x/src/gen', true));
  });

  it('a trailing slash matches directories only; ! re-includes; the last rule wins', () => {
    const s = stack('out/\n*.txt\n!keep.txt\n');
    assert.ok(s.ignores('out', true));
    assert.ok(!s.ignores('out', false));
    assert.ok(s.ignores('a.txt', false));
    assert.ok(!s.ignores('keep.txt', false));
  });

  it("a deeper file's rules apply below it, after its parent's", () => {
    const s = stack('*.gen\n').with('sub', '!ok.gen\n');
    assert.ok(s.ignores('x.gen', false));
    assert.ok(s.ignores('sub/x.gen', false));
    assert.ok(!s.ignores('sub/ok.gen', false));
    assert.ok(s.ignores('ok.gen', false), 'the re-include does not reach above sub/');
  });

  it('keeps escaped trailing spaces and literal ! and #', () => {
    const s = stack('\\#notes\n\\!bang\nspace\\ \n');
    assert.ok(s.ignores('#notes', false));
    assert.ok(s.ignores('!bang', false));
    assert.ok(s.ignores('space ', false));
  });
});
