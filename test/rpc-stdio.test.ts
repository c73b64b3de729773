/**
 * The stdio transport (`trl rpc`): the ordinary daemon serving its caller on
 * stdin/stdout — pipelined requests, a stream's events on stdout, a bad line
 * answered without ending the peer, and a clean exit once stdin ends.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { cleanEnv, exitOf, MAIN_JS, makeTempDir } from './helpers/daemon.js';
import { waitFor } from './helpers/wait.js';

function rpcPeer() {
  const dir = makeTempDir();
  const proc = spawn(process.execPath, [MAIN_JS, 'rpc', '--allow-root', '--default-working-dir', dir], { env: cleanEnv({}), stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = exitOf(proc);
  const lines: any[] = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (s: string) => {
    buf += s;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const send = (msg: unknown) => proc.stdin.write(typeof msg === 'string' ? msg + '\n' : JSON.stringify(msg) + '\n');
  return { proc, exited, lines, send, stderr: () => stderr };
}

it('trl rpc answers pipelined requests and streams on stdout, then exits 0 when stdin ends', async () => {
  const p = rpcPeer();
  p.send({ id: 1, method: 'system.ping' });
  p.send('{not json');
  p.send({ id: 2, method: 'session.create', params: {} });
  assert.ok(await waitFor(() => p.lines.some((l) => l.id === 2)), `no session.create answer; stderr: ${p.stderr()}`);
  const sid = p.lines.find((l) => l.id === 2).data.session_id as string;
  p.send({ id: 3, method: 'exec.run', params: { session_id: sid, command: 'cd /; export RPC_X=kept' } });
  // One command at a time per session: the stream starts once the run has answered.
  assert.ok(await waitFor(() => p.lines.some((l) => l.id === 3)), p.stderr());
  p.send({ id: 4, method: 'exec.stream', params: { session_id: sid, command: 'pwd; echo "$RPC_X"; echo err >&2; exit 3' } });
  assert.ok(await waitFor(() => p.lines.some((l) => l.event === 'exit')), `no exit event; got ${JSON.stringify(p.lines)}`);
  p.proc.stdin.end();
  assert.equal(await p.exited, 0, p.stderr());

  assert.equal(p.lines.find((l) => l.id === 1)?.ok, true);
  assert.equal(p.lines.find((l) => l.id === null)?.error?.code, 'INVALID_PARAMS');
  assert.equal(p.lines.find((l) => l.id === 3)?.data?.exit_code, 0);
  const streamId = p.lines.find((l) => l.id === 4)?.data?.stream_id as string;
  const events = p.lines.filter((l) => l.stream_id === streamId);
  const out = events
    .filter((e) => e.event === 'stdout')
    .map((e) => e.data as string)
    .join('');
  assert.equal(out, '/\nkept\n');
  assert.equal(
    events
      .filter((e) => e.event === 'stderr')
      .map((e) => e.data as string)
      .join(''),
    'err\n',
  );
  assert.equal(events.find((e) => e.event === 'exit')?.data?.exit_code, 3);
  assert.match(p.stderr(), /the stdio peer ended/);
});

it('trl rpc shuts down and kills its commands when its caller goes away', async () => {
  const p = rpcPeer();
  p.send({ id: 1, method: 'exec.start', params: { command: 'sleep 31713' } });
  assert.ok(await waitFor(() => p.lines.some((l) => l.id === 1)), p.stderr());
  assert.equal(p.lines[0].ok, true, JSON.stringify(p.lines[0]));
  const pid = p.lines[0].data.pid as number;
  p.proc.stdin.end();
  assert.equal(await p.exited, 0, p.stderr());
  assert.ok(
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }),
    `the command (pid ${pid}) outlived trl rpc`,
  );
});
