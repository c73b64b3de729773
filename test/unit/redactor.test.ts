/**
 * The output redactor (docs/security.md): secret values become [REDACTED] in a byte
 * stream however it is cut into chunks, in work linear in the bytes whatever
 * the secrets, holding back fewer bytes than the longest secret.
 *
 * The rule tested: every byte of every occurrence is hidden; overlapping
 * occurrences become one [REDACTED]; touching ones stay one each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AhoCorasick } from '../../src/runtime/aho-corasick.js';
import { REDACTED, Redactor, redactText } from '../../src/runtime/redactor.js';
import { MIN_SECRET_LENGTH, secretValues } from '../../src/runtime/secrets.js';

const R = REDACTED;

/** Feed `data` cut at `cuts` (offsets), then flush; checks the held-back bound after every push. */
function redactChunks(values: string[], data: Buffer, cuts: number[] = []): { out: Buffer; r: Redactor; maxPending: number } {
  const r = new Redactor(values);
  const longest = Math.max(0, ...values.map((v) => Buffer.byteLength(v)));
  const parts: Buffer[] = [];
  let from = 0;
  let maxPending = 0;
  for (const at of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
    parts.push(r.push(data.subarray(from, at)));
    from = at;
    maxPending = Math.max(maxPending, r.pending);
    assert.ok(r.pending <= Math.max(0, longest - 1), `${r.pending} bytes held back, the longest secret has ${longest}`);
  }
  parts.push(r.flush());
  assert.equal(r.pending, 0, 'bytes still held back after flush');
  return { out: Buffer.concat(parts), r, maxPending };
}

/** A string of `n` one-byte characters. */
const latin1 = (n: number, code: (i: number) => number) => Buffer.from(Array.from({ length: n }, (_, i) => code(i))).toString('latin1');

const redact = (values: string[], text: string, cuts: number[] = []) => redactChunks(values, Buffer.from(text), cuts).out.toString();

/** The rule, by brute force: hide every occurrence, merge the ones that overlap. */
function reference(values: string[], data: Buffer): Buffer {
  const pats = values.map((v) => Buffer.from(v)).filter((p) => p.length > 0);
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < data.length; i++) {
    for (const p of pats) {
      if (i + p.length <= data.length && data.subarray(i, i + p.length).equals(p)) runs.push([i, i + p.length]);
    }
  }
  runs.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of runs) {
    const last = merged[merged.length - 1];
    if (last && s < last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const parts: Buffer[] = [];
  let at = 0;
  for (const [s, e] of merged) {
    parts.push(data.subarray(at, s), Buffer.from(R));
    at = e;
  }
  parts.push(data.subarray(at));
  return Buffer.concat(parts);
}

describe('Redactor: what is hidden', () => {
  it('a value, repeated, with text around it', () => {
    assert.equal(redact(['s3cr3t'], 'a=s3cr3t;b=s3cr3t.'), `a=${R};b=${R}.`);
  });

  it('a value that contains another is hidden whole, once', () => {
    assert.equal(redact(['bc', 'abcd'], 'xabcdx bcx'), `x${R}x ${R}x`);
    assert.equal(redact(['abcd', 'bc'], 'xabcdx bcx', [3]), `x${R}x ${R}x`);
  });

  it('overlapping values become one [REDACTED]: no tail of either is printed', () => {
    assert.equal(redact(['abcd', 'cdef'], 'xabcdefx'), `x${R}x`);
    assert.equal(redact(['cdef', 'abcd'], 'xabcdefx', [4]), `x${R}x`);
    // a value overlapping itself
    assert.equal(redact(['aba'], 'ababa|aba'), `${R}|${R}`);
  });

  it('touching values stay one [REDACTED] each', () => {
    assert.equal(redact(['ab'], 'abab'), `${R}${R}`);
    assert.equal(redact(['ab', 'cd'], 'abcd', [2]), `${R}${R}`);
  });

  it('a later, longer match merges runs that were apart', () => {
    // 'ab' and 'cd' are hidden apart, until 'bXcdQ' joins them
    assert.equal(redact(['ab', 'cd', 'bXcdQ'], 'abXcdQ abXcdR'), `${R} ${R}X${R}R`);
    assert.equal(redact(['ab', 'cd', 'bXcdQ'], 'abXcdQ abXcdR', [1, 3, 5, 9, 11]), `${R} ${R}X${R}R`);
  });

  it('a prefix of a value at the end, or followed by other text, is printed', () => {
    assert.equal(redact(['s3cr3t'], 'xs3cr'), 'xs3cr');
    assert.equal(redact(['s3cr3t'], 'xs3cr', [3]), 'xs3cr');
    assert.equal(redact(['s3cr3t'], 's3cs3cr3t', [2, 5]), `s3c${R}`);
  });

  it('values are bytes: a multi-byte character cut by a chunk boundary', () => {
    const v = 'pässwörd-ü€🙂';
    const data = Buffer.from(`[${v}]`);
    for (let cut = 1; cut < data.length; cut++) assert.equal(redactChunks([v], data, [cut]).out.toString(), `[${R}]`);
  });

  it('empty values and an empty list change nothing; duplicates are one value', () => {
    assert.equal(redact([], 'abc'), 'abc');
    assert.equal(redact([''], 'abc'), 'abc');
    assert.equal(new Redactor(['']).active, false);
    assert.equal(redact(['b', 'b', ''], 'abc'), `a${R}c`);
  });

  it('[REDACTED] itself is never searched: a short value inside the marker stays', () => {
    assert.equal(redact(['abcdefgh', 'E'], 'abcdefgh E'), `${R} ${R}`);
  });
});

describe('Redactor: any chunking gives the same result (property-based)', () => {
  // An alphabet without the marker's characters, so that "no secret in the output" is exact; a few
  // letters so that overlaps, self-overlaps and near misses are frequent; multi-byte characters too.
  const ch = fc.constantFrom('a', 'b', 'c', 'ä', '€');
  const secret = fc.array(ch, { minLength: 1, maxLength: 9 }).map((a) => a.join(''));
  const scenario = fc.array(secret, { minLength: 1, maxLength: 5 }).chain((secrets) =>
    fc.record({
      secrets: fc.constant(secrets),
      // output made of loose characters, whole secrets, secret prefixes (near misses) and runs of a
      // byte that begins no secret (the automaton skips those with indexOf)
      text: fc
        .array(
          fc.oneof(
            ch,
            fc.constantFrom(...secrets),
            fc.constantFrom(...secrets).map((s) => [...s].slice(0, -1).join('')),
            fc.nat({ max: 120 }).map((n) => 'x'.repeat(n)),
          ),
          { maxLength: 40 },
        )
        .map((a) => a.join('')),
      cuts: fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
    }),
  );

  it('chunked = whole = the rule; no value in the output; held back < longest; work ≤ 2 × bytes', () => {
    fc.assert(
      fc.property(scenario, ({ secrets, text, cuts }) => {
        const data = Buffer.from(text);
        const whole = redactChunks(secrets, data).out;
        const chunked = redactChunks(secrets, data, cuts);
        const oneByOne = redactChunks(
          secrets,
          data,
          Array.from({ length: data.length }, (_, i) => i),
        );
        assert.deepEqual(chunked.out, whole);
        assert.deepEqual(oneByOne.out, whole);
        assert.equal(whole.toString(), reference(secrets, data).toString());
        for (const s of secrets) assert.ok(!whole.includes(s), `${JSON.stringify(s)} in ${JSON.stringify(whole.toString())}`);
        assert.ok(chunked.r.work.steps <= 2 * data.length, `${chunked.r.work.steps} steps for ${data.length} bytes`);
        assert.ok(oneByOne.r.work.steps <= 2 * data.length, `${oneByOne.r.work.steps} steps for ${data.length} bytes`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Redactor: linear work and bounded memory with huge secrets (counted, not timed)', () => {
  const L = 125 * 1024;

  /** Feed in chunks of `size` bytes; return the output, the steps taken and the most bytes ever held back. */
  const feed = (values: string[], data: Buffer, size: number) => {
    const cuts: number[] = [];
    for (let at = size; at < data.length; at += size) cuts.push(at);
    const { out, r, maxPending } = redactChunks(values, data, cuts);
    return { out, steps: r.work.steps, maxPending };
  };

  it('a 125 KB periodic secret and output of near misses (each one byte short of matching)', () => {
    const secret = `${'a'.repeat(L - 1)}b`;
    const miss = `${'a'.repeat(L - 1)}c`;
    const text = `${miss.repeat(8)}${secret}${'a'.repeat(L - 1)}`;
    const data = Buffer.from(text);
    for (const size of [65_536, 4093, 1]) {
      // a byte at a time: three near misses are enough (and nothing in them is a secret)
      const slice = size === 1 ? data.subarray(0, 3 * L) : data;
      const expected = size === 1 ? miss.repeat(3) : `${miss.repeat(8)}${R}${'a'.repeat(L - 1)}`;
      const { out, steps, maxPending } = feed([secret], slice, size);
      assert.ok(out.toString() === expected, `chunks of ${size}: wrong output`);
      assert.ok(steps <= 2 * slice.length, `chunks of ${size}: ${steps} automaton steps for ${slice.length} bytes`);
      assert.ok(maxPending <= L - 1, `chunks of ${size}: ${maxPending} bytes held back`);
    }
  });

  it('a 125 KB random secret and output of its 125 KB − 1 prefix repeated', () => {
    const secret = latin1(L, (i) => 0x21 + (((i * 2654435761) >>> 7) % 90));
    const prefix = secret.slice(0, -1);
    const data = Buffer.from(`${prefix.repeat(10)}${secret}`);
    const { out, steps, maxPending } = feed([secret, 'x'.repeat(L)], data, 65_536);
    assert.equal(out.toString(), `${prefix.repeat(10)}${R}`);
    assert.ok(steps <= 2 * data.length, `${steps} automaton steps for ${data.length} bytes`);
    assert.ok(maxPending > 60_000 && maxPending <= L - 1, `${maxPending} bytes held back`);
  });

  it('many values that share long prefixes (a branching automaton)', () => {
    const stem = 'k'.repeat(4096);
    const values = Array.from({ length: 200 }, (_, i) => `${stem}${i.toString(16).padStart(2, '0')}.`);
    const misses = values.map((v) => `${v.slice(0, -1)}~`).join('');
    const data = Buffer.from(`${misses}${values[7]!}${stem}`);
    const { out, steps, maxPending } = feed(values, data, 1000);
    assert.ok(out.toString() === `${misses}${R}${stem}`, 'wrong output');
    assert.ok(steps <= 2 * data.length, `${steps} automaton steps for ${data.length} bytes`);
    assert.ok(maxPending <= stem.length + 2, `${maxPending} bytes held back`);
  });

  it('the automaton is sparse: a 1 MB secret costs a few dozen bytes per byte, not a 256-entry table per state', () => {
    const secret = latin1(1024 * 1024, (i) => 0x41 + (i % 26));
    const ac = new AhoCorasick([secret]);
    assert.equal(ac.size, secret.length + 1);
    assert.ok(ac.memoryBytes <= 24 * secret.length, `${ac.memoryBytes} bytes for a ${secret.length}-byte secret`);
    // and it works: the secret cut in three, and a near miss
    const data = Buffer.from(`<${secret}>${secret.slice(0, -1)}!`);
    const { out } = feed([secret], data, 400_000);
    assert.equal(out.toString(), `<${R}>${secret.slice(0, -1)}!`);
  });
});

describe('redactText', () => {
  it('replaces every value, overlapping ones once, in any script', () => {
    assert.equal(redactText('echo s3cr3t-x and abcdef', ['s3cr3t-x', 'abcd', 'cdef']), `echo ${R} and ${R}`);
    assert.equal(redactText('cd /home/jürgen/pässwörd', ['pässwörd']), `cd /home/jürgen/${R}`);
  });

  it('leaves text without a value exactly as it is (a lone surrogate too)', () => {
    const t = 'x\ud800y';
    assert.equal(redactText(t, ['zz']), t);
    assert.equal(redactText('abc', [`${'a'.repeat(1 << 20)}`]), 'abc');
    assert.equal(redactText('', ['a']), '');
  });

  it('a 125 KB value in a text of near misses', () => {
    const secret = `${'a'.repeat(125 * 1024 - 1)}b`;
    const miss = `${'a'.repeat(125 * 1024 - 1)}c`;
    assert.equal(redactText(`${miss}${miss}${secret}!`, [secret]), `${miss}${miss}${R}!`);
  });
});

describe('secretValues', () => {
  it('explicit names are secret whatever the length of their value; names that only look secret from MIN_SECRET_LENGTH on', () => {
    const env = { PIN: '1234', ONE: 'x', EMPTY: '', SHORT_TOKEN: 'Zy9#xW7', LONG_TOKEN: 'Ab3$dE6!', PLAIN: 'not-a-secret-value', DUP: '1234' };
    const got = secretValues(env, new Set(['PIN', 'ONE', 'EMPTY', 'DUP']));
    assert.equal(MIN_SECRET_LENGTH, 8);
    assert.deepEqual([...got].sort(), ['1234', 'Ab3$dE6!', 'x']);
  });
});
