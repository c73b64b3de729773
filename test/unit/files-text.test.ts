import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrlError } from '../../src/protocol/errors.js';
import { applyEdits, lineEndingOf } from '../../src/runtime/files/apply-edits.js';
import { lineWindow } from '../../src/runtime/files/text-lines.js';
import { unifiedDiff } from '../../src/runtime/files/unified-diff.js';

describe('line windows (fs.read by lines)', () => {
  it('counts lines, keeps their endings, and says whether the end was reached', () => {
    const w = lineWindow('a\nb\r\nc', 1, 1, 100);
    assert.deepEqual(w, { content: 'b\r\n', total: 3, count: 1, clipped: 0, eof: false });
    const last = lineWindow('a\nb\n', 1, 10, 100);
    assert.equal(last.total, 2, 'a file ending in a newline has no empty line after it');
    assert.equal(last.content, 'b\n');
    assert.equal(last.eof, true);
    assert.equal(lineWindow('', 0, 10, 100).total, 0);
  });

  it('clips a long line with a marker saying how much was cut', () => {
    const w = lineWindow(`${'x'.repeat(30)}\nshort\n`, 0, 10, 10);
    assert.equal(w.clipped, 1);
    assert.match(w.content, /^x{10} \[… 20 more characters clipped\]\nshort\n$/);
  });
});

describe('edits (fs.edit)', () => {
  const refused = (fn: () => unknown, count: number) =>
    assert.throws(
      fn,
      (e: unknown) => e instanceof TrlError && e.code === 'INVALID_PARAMS' && e.details?.count === count && new RegExp(count === 0 ? 'does not occur' : `occurs ${count} times`).test(e.message),
    );

  it('replaces an exact, unique text; refuses one that is missing or not unique, naming the count', () => {
    assert.equal(applyEdits('one two three', [{ old: 'two', new: '2' }]).text, 'one 2 three');
    refused(() => applyEdits('a b a', [{ old: 'a', new: 'x' }]), 2);
    refused(() => applyEdits('a b a', [{ old: 'z', new: 'x' }]), 0);
    assert.deepEqual(applyEdits('a b a', [{ old: 'a', new: 'x', replace_all: true }]), { text: 'x b x', counts: [2], lineEnding: 'lf' });
  });

  it('applies edits in order, each to the result of the ones before; one failure fails them all', () => {
    assert.equal(
      applyEdits('abc', [
        { old: 'b', new: 'B' },
        { old: 'aB', new: 'x' },
      ]).text,
      'xc',
    );
    refused(
      () =>
        applyEdits('abc', [
          { old: 'b', new: 'B' },
          { old: 'b', new: 'x' },
        ]),
      0,
    );
  });

  it('keeps CRLF line endings: edits written with \\n match and write \\r\\n', () => {
    const crlf = 'one\r\ntwo\r\nthree\r\n';
    assert.equal(lineEndingOf(crlf), 'crlf');
    const r = applyEdits(crlf, [{ old: 'one\ntwo\n', new: 'uno\ndos\nmas\n' }]);
    assert.equal(r.text, 'uno\r\ndos\r\nmas\r\nthree\r\n');
    assert.equal(r.lineEnding, 'crlf');
    assert.ok(!/[^\r]\n/.test(r.text), 'no bare \\n appears');
  });
});

describe('unified diff (fs.edit dry_run)', () => {
  it('shows one hunk with three lines of context', () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const after = before.replace('line 10\n', 'LINE TEN\n');
    const d = unifiedDiff('/ws/f', before, after);
    assert.equal(d, ['--- a/ws/f', '+++ b/ws/f', '@@ -7,7 +7,7 @@', ' line 7', ' line 8', ' line 9', '-line 10', '+LINE TEN', ' line 11', ' line 12', ' line 13', ''].join('\n'));
  });

  it('separates distant changes into hunks, and marks a last line without a newline', () => {
    const before = Array.from({ length: 30 }, (_, i) => `l${i + 1}`).join('\n');
    const after = before.replace('l2\n', 'L2\n').replace('l29\nl30', 'l29\nl30!');
    const d = unifiedDiff('/f', before, after);
    assert.equal((d.match(/^@@/gm) ?? []).length, 2);
    assert.match(d, /-l30\n\\ No newline at end of file\n\+l30!\n\\ No newline at end of file\n/);
    assert.equal(unifiedDiff('/f', 'same\n', 'same\n'), '');
  });

  it('handles insertions and removals at the ends', () => {
    assert.equal(unifiedDiff('/f', '', 'a\n'), '--- a/f\n+++ b/f\n@@ -0,0 +1,1 @@\n+a\n');
    assert.equal(unifiedDiff('/f', 'a\nb\n', 'b\n'), '--- a/f\n+++ b/f\n@@ -1,2 +1,1 @@\n-a\n b\n');
  });
});
