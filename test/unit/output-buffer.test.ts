import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteQueue } from '../../src/runtime/byte-queue.js';
import { OutputBuffer } from '../../src/runtime/output-buffer.js';

function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

describe('OutputBuffer', () => {
  it('keeps everything under the cap', () => {
    const b = new OutputBuffer(100);
    b.append(Buffer.from('hello '));
    b.append(Buffer.from('world'));
    assert.equal(Buffer.concat([b.head(), b.tail()]).toString(), 'hello world');
    assert.equal(b.dropped, 0);
    assert.equal(b.total, 11);
  });

  it('keeps head and tail and counts the dropped middle exactly, whatever the chunking', () => {
    const data = pattern(10_000);
    for (const chunk of [1, 7, 64, 999, 10_000]) {
      const b = new OutputBuffer(1000);
      for (let i = 0; i < data.length; i += chunk) b.append(data.subarray(i, i + chunk));
      assert.equal(b.total, 10_000);
      assert.equal(b.dropped, 9000);
      assert.deepEqual(b.head(), data.subarray(0, 500));
      assert.deepEqual(b.tail(), data.subarray(9500));
    }
  });

  it('reads by absolute offset and skips the dropped middle', () => {
    const data = pattern(5000, 3);
    const b = new OutputBuffer(1000);
    b.append(data);
    assert.deepEqual(b.read(10, 20).data, data.subarray(10, 30));
    const mid = b.read(1000, 100);
    assert.equal(mid.offset, 4500);
    assert.equal(mid.skipped, 3500);
    assert.deepEqual(mid.data, data.subarray(4500, 4600));
    assert.equal(b.read(5000, 10).data.length, 0);
  });
});

describe('ByteQueue', () => {
  it('drops from the front across block boundaries', () => {
    const q = new ByteQueue();
    const data = pattern(300_000, 5);
    for (let i = 0; i < data.length; i += 1234) q.append(data.subarray(i, i + 1234));
    q.dropFront(100_001);
    assert.equal(q.length, 199_999);
    assert.deepEqual(q.toBuffer(), data.subarray(100_001));
    assert.deepEqual(q.slice(5, 15), data.subarray(100_006, 100_016));
  });
});
