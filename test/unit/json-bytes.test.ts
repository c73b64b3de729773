/**
 * The byte-level JSON of output (exec.run/exec.wait results written without
 * making the output a JS string): the same text JSON.stringify gives, for
 * any valid UTF-8 split anywhere (inside characters too); and the UTF-8
 * check over parts that agrees with checking the joined bytes.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonStringBytes } from '../../src/runtime/json-bytes.js';
import { isUtf8Parts } from '../../src/runtime/utf8.js';
import { ByteQueue } from '../../src/runtime/byte-queue.js';

/** Cut `bytes` at the given positions (sorted, deduplicated). */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(bytes.subarray(from, p));
    from = p;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

const text = fc.string({
  unit: fc.oneof(fc.constantFrom('\n', '\t', '"', '\\', '\u0000', '\u001f', '\u007f', 'ü', '€', '🙂', '\u2028'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  maxLength: 300,
});

describe('jsonStringBytes', () => {
  it('gives what JSON.stringify gives, however the bytes are split', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 8 }), (s, at) => {
        const bytes = Buffer.from(s);
        assert.equal(jsonStringBytes(cut(bytes, at)).toString(), JSON.stringify(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives what JSON.stringify gives for lines of plain text between escapes, at every alignment (the word-at-a-time path)', () => {
    // Runs of 0 to 40 plain bytes (ASCII and multi-byte) between escapes: every offset of an escape within a 4-byte word.
    const run = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', '~', '\u007f', 'é', '€', '🙂'), maxLength: 40 });
    const special = fc.constantFrom('\n', '"', '\\', '\u0000', '\u001f', '\t', '\r', '\b', '\f', '\u0001');
    const lines = fc.array(fc.tuple(run, special), { maxLength: 40 }).map((pairs) => pairs.map(([r, e]) => r + e).join(''));
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('x', 'ü'), maxLength: 3 }), lines, fc.array(fc.nat(), { maxLength: 5 }), (lead, s, at) => {
        const whole = lead + s;
        assert.equal(jsonStringBytes(cut(Buffer.from(whole), at)).toString(), JSON.stringify(whole));
      }),
      { numRuns: 2000 },
    );
    // Every byte value below 0x80 at each of the four positions of a word, among plain bytes.
    for (let c = 0; c < 0x80; c++)
      for (let pos = 0; pos < 4; pos++) {
        const s = 'abcdefgh'.slice(0, pos) + String.fromCharCode(c) + 'ijklmnop';
        assert.equal(jsonStringBytes([Buffer.from(s)]).toString(), JSON.stringify(s), `byte 0x${c.toString(16)} at ${pos}`);
      }
  });

  it('sizes the output exactly when escapes are dense (the first guess does not fit)', () => {
    const s = '\u0001"\n'.repeat(10_000);
    assert.equal(jsonStringBytes([Buffer.from(s)]).toString(), JSON.stringify(s));
    assert.equal(jsonStringBytes([]).toString(), '""');
  });
});

describe('isUtf8Parts', () => {
  it('agrees with isUtf8 of the joined bytes, whatever the split', () => {
    const bytes = fc.oneof(
      text.map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 6 }), (b, at) => {
        assert.equal(isUtf8Parts(cut(b, at)), isUtf8(b));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('ByteQueue with kept chunks', () => {
  it('holds the same bytes, views included, whether chunks are copied or kept, and large chunks are not copied', () => {
    const q = new ByteQueue();
    const parts: Buffer[] = [];
    for (const size of [10, 5000, 3, 70_000, 100, 4096, 1]) {
      const b = Buffer.allocUnsafeSlow(size).fill(size & 0xff);
      parts.push(b);
      q.append(b);
    }
    const all = Buffer.concat(parts);
    assert.deepEqual(q.toBuffer(), all);
    assert.deepEqual(Buffer.concat([...q.views(7, all.length - 9)]), all.subarray(7, all.length - 9));
    // A kept chunk: a read inside it is a view of the very memory appended.
    const big = parts[3] as Buffer;
    const start = 10 + 5000 + 3;
    assert.equal(q.peek(start + 5, start + 100).buffer, big.buffer);
    q.dropFront(start + 10);
    assert.deepEqual(q.toBuffer(), all.subarray(start + 10));
  });
});
