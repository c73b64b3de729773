/**
 * Large exec.run answers (megabytes of output) while others are in flight.
 * The daemon writes a large answer's output JSON into one buffer it reuses
 * from answer to answer (src/server/answer-buffer.ts). Whatever the readers
 * do, every answer carries its own command's output, byte for byte: an answer
 * a stuck reader has not taken keeps its bytes while others are written (on
 * the Unix socket and over HTTP), and one whose reader went away leaves the
 * next answers whole. The SDK's calls here ask for the output in the JSON
 * (`raw_output: false`): by default the SDK takes it as raw bytes after the
 * answer's line, which never uses that buffer (test/raw-output.test.ts).
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import type { TrlClient } from '../src/client/client.js';
import { connect } from './helpers/client.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { rawConnect, type RawConnection } from './helpers/raw-connection.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
/** `bytes` bytes of the letter `c` (a line of them every 64: JSON has escapes to write). */
const print = (c: string, bytes: number) => `yes ${c.repeat(63)} | head -c ${bytes}`;
const expected = (c: string, bytes: number) => (c.repeat(63) + '\n').repeat(Math.ceil(bytes / 64)).slice(0, bytes);

/** Wait until the session's one command has finished: its answer is then being written. */
async function finished(c: TrlClient, sessionId: string): Promise<void> {
  const done = await waitFor(async () => (await c.call('exec.list', { session_id: sessionId })).commands.some((x) => x.state !== 'running'));
  assert.equal(done, true, 'the stuck reader’s command finished');
}

function assertOutput(got: unknown, c: string, bytes: number, what: string): void {
  assert.equal(typeof got, 'string', what);
  const text = got as string;
  assert.equal(text.length, bytes, `${what}: length`);
  // Compared as a whole only when it differs somewhere: the first difference is what is worth reading.
  const want = expected(c, bytes);
  if (text !== want) {
    let i = 0;
    while (text[i] === want[i]) i++;
    assert.fail(`${what}: differs from byte ${i}: ${JSON.stringify(text.slice(i, i + 80))}`);
  }
}

describe('large answers with others in flight', () => {
  // Answers larger than loopback TCP absorbs unread (a 4 MiB send buffer and the receiver's window): 8 MiB of output.
  const h = useHttpDaemon({ flags: ['--max-output-bytes', String(16 * MiB)] });

  it('Unix socket: an answer its reader has not taken keeps its bytes while two others are written and read', async () => {
    const c = await connect(h.d);
    let stuck: RawConnection | undefined;
    try {
      const sa = (await c.call('session.create', {})).session_id;
      const sb = (await c.call('session.create', {})).session_id;
      stuck = await rawConnect(h.d.socketPath);
      stuck.socket.pause();
      stuck.send({ id: 1, method: 'exec.run', params: { session_id: sa, command: print('a', 3 * MiB) } });
      await finished(c, sa);
      // Larger, then smaller than the stuck one: each is written while the stuck one's bytes wait in the daemon.
      const b = await c.call('exec.run', { session_id: sb, command: print('b', 3 * MiB + 4096), raw_output: false });
      assertOutput(b.stdout, 'b', 3 * MiB + 4096, 'the second answer');
      const d = await c.call('exec.run', { session_id: sb, command: print('d', 2 * MiB), raw_output: false });
      assertOutput(d.stdout, 'd', 2 * MiB, 'the third answer');
      stuck.socket.resume();
      const a = await stuck.next();
      assert.equal(a.ok, true);
      assertOutput(a.data.stdout, 'a', 3 * MiB, 'the stuck answer, read last');
    } finally {
      stuck?.close();
      c.close();
    }
  });

  it('Unix socket: two large answers pipelined on one connection read slowly are each whole', async () => {
    const c = await connect(h.d);
    let conn: RawConnection | undefined;
    try {
      const s = (await c.call('session.create', {})).session_id;
      const s2 = (await c.call('session.create', {})).session_id;
      conn = await rawConnect(h.d.socketPath);
      conn.socket.pause();
      conn.send({ id: 1, method: 'exec.run', params: { session_id: s, command: print('e', 2 * MiB) } });
      conn.send({ id: 2, method: 'exec.run', params: { session_id: s2, command: print('f', 2 * MiB + 100) } });
      await finished(c, s);
      await finished(c, s2);
      conn.socket.resume();
      const answers = [await conn.next(), await conn.next()].sort((x, y) => Number(x.id) - Number(y.id));
      assertOutput(answers[0]?.data.stdout, 'e', 2 * MiB, 'answer 1');
      assertOutput(answers[1]?.data.stdout, 'f', 2 * MiB + 100, 'answer 2');
    } finally {
      conn?.close();
      c.close();
    }
  });

  it('Unix socket: a reader that goes away with a large answer unread leaves the next answers whole', async () => {
    const c = await connect(h.d);
    try {
      const s = (await c.call('session.create', {})).session_id;
      const gone = await rawConnect(h.d.socketPath);
      gone.socket.pause();
      gone.send({ id: 1, method: 'exec.run', params: { session_id: s, command: print('g', 3 * MiB) } });
      await finished(c, s);
      gone.socket.destroy();
      for (const [ch, n] of [
        ['h', 3 * MiB],
        ['i', 2 * MiB + 7],
      ] as const) {
        const r = await c.call('exec.run', { session_id: s, command: print(ch, n), raw_output: false });
        assertOutput(r.stdout, ch, n, `the answer after (${ch})`);
      }
    } finally {
      c.close();
    }
  });

  it('HTTP: a response its client has not read keeps its bytes while another is written and read', async () => {
    const c = await connect(h.d);
    try {
      const sa = (await c.call('session.create', {})).session_id;
      const sb = (await c.call('session.create', {})).session_id;
      let resume: () => void = () => undefined;
      const body = new Promise<string>((resolve, reject) => {
        const req = http.request(`${h.url}/v1/rpc`, { method: 'POST', agent: false, headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json' } }, (res) => {
          res.pause();
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
          resume = () => res.resume();
        });
        req.on('error', reject);
        req.end(JSON.stringify({ id: 1, method: 'exec.run', params: { session_id: sa, command: print('j', 8 * MiB) } }));
      });
      await finished(c, sa);
      const b = await c.call('exec.run', { session_id: sb, command: print('k', 8 * MiB + 1), raw_output: false });
      assertOutput(b.stdout, 'k', 8 * MiB + 1, 'the answer over the socket');
      resume();
      const a = JSON.parse(await body) as { ok: boolean; data: { stdout: string } };
      assert.equal(a.ok, true);
      assertOutput(a.data.stdout, 'j', 8 * MiB, 'the unread HTTP answer, read last');
    } finally {
      c.close();
    }
  });
});
