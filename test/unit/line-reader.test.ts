/**
 * NDJSON framing (LineReader): every line comes out whole and in order
 * however the bytes are split over reads (inside multi-byte characters too),
 * with or without a kept join buffer, whose reuse for a shorter or longer line
 * never leaks bytes of an earlier one; a line past the cap ends the reader.
 * Raw bytes announced after a line (exec.run's `raw_output`) come out whole
 * however they are split, and the lines after them as ever.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineReader } from '../../src/protocol/line-reader.js';

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

/** What a reader with `keepBytes` gives for `chunks` (copies: a reader may keep none of them). */
function read(chunks: Buffer[], keepBytes: number): string[] {
  const out: string[] = [];
  const reader = new LineReader(
    Number.MAX_SAFE_INTEGER,
    (line) => out.push(line),
    () => assert.fail('no cap here'),
    keepBytes,
  );
  for (const c of chunks) reader.push(Buffer.from(c));
  reader.end();
  return out;
}

const line = fc
  .string({ unit: fc.oneof(fc.constantFrom('a', 'z', '"', '\\', 'ü', '€', '🙂', ' '), fc.string({ maxLength: 1 })), minLength: 1, maxLength: 200 })
  .filter((s) => !s.includes('\n') && s.trim().length > 0);

describe('LineReader', () => {
  it('gives every line whole, in order, for any split, with a kept join buffer of any size or none', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), fc.constantFrom(0, 1, 16, 64, 1 << 20), (lines, at, keep) => {
        const bytes = Buffer.from(lines.join('\n') + '\n', 'utf8');
        assert.deepEqual(read(cut(bytes, at), keep), lines);
      }),
      { numRuns: 500 },
    );
  });

  it('reuses its join buffer: a short line after a long one, and a longer one after it, carry nothing of the others', () => {
    const long = 'x'.repeat(5000);
    const short = 'yz';
    const longer = 'w'.repeat(9000);
    const bytes = Buffer.from(`${long}\n${short}\n${longer}\n${short}\n`);
    // Reads of 7 bytes: every line spans several, so each is joined.
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    assert.deepEqual(read(chunks, 6000), [long, short, longer, short], 'one past keepBytes is joined apart, the rest in the kept buffer');
    assert.deepEqual(read(chunks, 1 << 20), [long, short, longer, short]);
  });

  it('a line without its newline counts at the end; blank lines are skipped', () => {
    assert.deepEqual(read([Buffer.from('\n  \nab'), Buffer.from('c')], 64), ['abc']);
  });

  it('calls onTooLarge once past maxBytes and gives nothing more', () => {
    const lines: string[] = [];
    let tooLarge = 0;
    const reader = new LineReader(
      10,
      (l) => lines.push(l),
      () => tooLarge++,
      64,
    );
    reader.push(Buffer.from('short\n0123456'));
    reader.push(Buffer.from('789abc\nlater\n'));
    reader.push(Buffer.from('more\n'));
    assert.deepEqual(lines, ['short']);
    assert.equal(tooLarge, 1);
  });

  it('raw bytes announced after a line come out whole, however split, and the lines after them too', () => {
    /** Messages: a line, and maybe raw bytes after it (any bytes: newlines, invalid UTF-8). */
    const message = fc.tuple(
      line.filter((l) => !l.startsWith('#')),
      fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
    );
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), fc.constantFrom(0, 16, 1 << 20), (messages, at, keep) => {
        // A line says how many raw bytes follow it by its first character: '#' and a count.
        const wire = Buffer.concat(messages.flatMap(([l, raw]) => (raw === undefined ? [Buffer.from(`${l}\n`)] : [Buffer.from(`#${raw.length}:${l}\n`), Buffer.from(raw)])));
        const got: Array<[string, Buffer | undefined]> = [];
        const reader: LineReader = new LineReader(
          Number.MAX_SAFE_INTEGER,
          (text) => {
            const m = /^#(\d+):/.exec(text);
            got.push([m ? text.slice(m[0].length) : text, undefined]);
            if (m) reader.attach(Number(m[1]));
          },
          () => assert.fail('no cap here'),
          keep,
          // A copy: the buffer is the reader's once the call returns.
          (bytes) => ((got[got.length - 1] as [string, Buffer | undefined])[1] = Buffer.from(bytes)),
        );
        for (const c of cut(wire, at)) reader.push(Buffer.from(c));
        reader.end();
        assert.deepEqual(
          got.map(([l, raw]) => [l, raw?.toString('hex')]),
          messages.map(([l, raw]) => [l, raw === undefined ? undefined : Buffer.from(raw).toString('hex')]),
        );
      }),
      { numRuns: 500 },
    );
  });
});
