/** base64Into writes what Buffer's own base64 encoder gives, for every length and any bytes. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { base64Into, base64Length } from '../../src/server/base64-into.js';
import { base64EventLine } from '../../src/server/event-line.js';

function encoded(src: Buffer, at = 0): Buffer {
  const out = Buffer.alloc(at + base64Length(src.length) + 3, 0xee);
  const end = base64Into(src, out, at);
  assert.equal(end, at + base64Length(src.length), 'returns the position after the text');
  assert.ok(out.subarray(0, at).every((b) => b === 0xee) && out.subarray(end).every((b) => b === 0xee), 'writes nothing outside its room');
  return out.subarray(at, end);
}

describe('base64Into', () => {
  it('every length from 0 to 100 and around the 12-byte steps, random bytes, at any offset', () => {
    for (let n = 0; n <= 100; n++) {
      const src = randomBytes(n);
      assert.equal(encoded(src, n % 7).toString('latin1'), src.toString('base64'), `${n} bytes`);
    }
  });

  it('all 256 byte values in every position of a step, and a 64 KiB chunk', () => {
    const all = Buffer.from(Array.from({ length: 256 * 3 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    for (let shift = 0; shift < 12; shift++) assert.equal(encoded(all.subarray(shift)).toString('latin1'), all.subarray(shift).toString('base64'));
    const chunk = randomBytes(64 * 1024);
    assert.equal(encoded(chunk).toString('latin1'), chunk.toString('base64'));
  });

  it('a view into a larger buffer reads only its own bytes', () => {
    const big = randomBytes(1000);
    const view = big.subarray(13, 13 + 500);
    assert.equal(encoded(view).toString('latin1'), view.toString('base64'));
  });

  it('an event line is the JSON of the event, its data the base64 of the bytes', () => {
    const data = randomBytes(70_001);
    const line = base64EventLine('st-1', 'stderr', data, 12345);
    assert.equal(line[line.length - 1], 0x0a);
    assert.deepEqual(JSON.parse(line.toString('latin1')), { stream_id: 'st-1', event: 'stderr', data: data.toString('base64'), offset: 12345 });
  });
});
