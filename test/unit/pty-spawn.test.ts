/**
 * A command under a pseudo-terminal: node-pty reports its exit only once the
 * terminal's master side has closed, or 200 ms after the exit, when it closes
 * the master itself (a background process may hold the terminal open). A busy
 * daemon may not have read the last of the output by then: those bytes must
 * not go with the descriptor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnPty } from '../../src/tiers/host/pty-spawn.js';

const BYTES = 150_000;

/** Run `script` under a terminal, reading its output as a busy event loop would: `stallMs` of other work per chunk. */
async function runSlowly(script: string, stallMs: number): Promise<string> {
  const p = await spawnPty('/bin/sh', ['-c', script], { cwd: '/', env: { PATH: '/usr/bin:/bin', TERM: 'dumb' }, cols: 80, rows: 24 });
  const chunks: Buffer[] = [];
  p.stdout.on('data', (d: Buffer) => {
    chunks.push(d);
    const until = Date.now() + stallMs;
    while (Date.now() < until) {
      /* the loop is busy elsewhere */
    }
  });
  const ended = new Promise((resolve) => p.stdout.once('end', resolve));
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  await ended;
  return Buffer.concat(chunks).toString();
}

describe('spawnPty', () => {
  it('a slow reader gets every byte the command wrote before it exited, though node-pty closes the terminal 200 ms after the exit', async () => {
    // About 37 chunks of 4 KiB at 20 ms each: when the command exits, tens of KiB are still in the terminal, read
    // well past node-pty's 200 ms.
    for (let i = 0; i < 2; i++) {
      const out = await runSlowly(`head -c ${BYTES} /dev/zero | tr '\\0' a; echo; echo end`, 20);
      assert.equal(out.split('a').length - 1, BYTES, `run ${i}: ${out.length} bytes`);
      assert.match(out, /\r\nend\r\n$/, `run ${i}: the output ends ${JSON.stringify(out.slice(-20))}`);
    }
  });

  it('and when a background process keeps the terminal open', async () => {
    const out = await runSlowly(`(trap '' HUP; exec sleep 2) & head -c ${BYTES} /dev/zero | tr '\\0' a; echo; echo end`, 20);
    assert.equal(out.split('a').length - 1, BYTES, `${out.length} bytes`);
    assert.match(out, /\r\nend\r\n$/);
  });
});
