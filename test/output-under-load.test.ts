/**
 * No byte a command wrote before its main process exited is ever lost, however
 * slow the daemon's event loop is (PROTOCOL §6 "Completion"). Found under load:
 * with every core busy, `echo N; exit 3` came back as exit 3 with empty
 * stdout, cut by a wall-clock drain after the exit. Here thousands of commands
 * run while CPU hogs starve the daemon; every result must carry its output and
 * its state (the cwd the command's shell reported through its state pipe).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useDaemon } from './helpers/fixture.js';

const COMMANDS = 150;
const CONCURRENCY = 16;
/** Commands released at the same instant: their exits and their pipes' data arrive in one burst of events. */
const BURST = 200;

/** Busy loops on every core, twice over, at the daemon's own priority. */
function startHogs(): ChildProcess[] {
  const n = Math.max(2, cpus().length) * 2;
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
}

describe('output under CPU starvation', () => {
  const { c } = useDaemon({ flags: ['--max-running-commands', '1024', '--max-session-running', '1024', '--session-max-commands', '100000', '--log-level', 'info'] });
  let hogs: ChildProcess[] = [];

  before(async () => {
    hogs = startHogs();
  });
  after(async () => {
    for (const h of hogs) h.kill('SIGKILL');
  });

  it(`keeps every byte of ${BURST} commands that exit at the same instant`, async () => {
    // All block on one FIFO; one write of BURST lines releases them together.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-burst-'));
    const gate = path.join(dir, 'gate');
    execFileSync('mkfifo', [gate]);
    const s = await c.call('session.create', { working_dir: dir });
    const ids: string[] = [];
    for (let i = 0; i < BURST; i++) {
      // One byte each (dd bs=1: no reader takes another's), then the output, then the exit.
      const r = await c.call('exec.start', { session_id: s.session_id, timeout_s: 0, command: `dd if=${gate} bs=1 count=1 2>/dev/null >/dev/null; echo "out-${i}"; echo "err-${i}" >&2; exit 3` });
      ids.push(r.command_id);
    }
    const w = fs.openSync(gate, fs.constants.O_RDWR);
    fs.writeSync(w, Buffer.alloc(BURST, 'x'));
    const lost: string[] = [];
    for (const [i, id] of ids.entries()) {
      const r = await c.call('exec.wait', { command_id: id, timeout_s: 120 });
      if (r.exit_code !== 3 || r.stdout !== `out-${i}\n` || r.stderr !== `err-${i}\n`) {
        lost.push(`#${i}: exit ${r.exit_code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
      }
    }
    fs.closeSync(w);
    await c.call('session.destroy', { session_id: s.session_id, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(lost, [], `${lost.length} of ${BURST} results lost output`);
  });

  it(`keeps every byte of ${COMMANDS} short commands while every core is busy`, async () => {
    const lost: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < COMMANDS) {
        const i = next++;
        const r = await c.call('exec.run', { command: `echo out-${i}; echo err-${i} >&2; exit 3` });
        if (r.exit_code !== 3 || r.stdout !== `out-${i}\n` || r.stderr !== `err-${i}\n`) {
          lost.push(`#${i}: exit ${r.exit_code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(lost, [], `${lost.length} of ${COMMANDS} results lost output`);
  });

  it('keeps every state report too: a cd persists in each of many sessions under the same load', async () => {
    const sessions = await Promise.all(Array.from({ length: CONCURRENCY }, () => c.call('session.create', {})));
    const wrong: string[] = [];
    await Promise.all(
      sessions.map(async (s) => {
        for (let i = 0; i < 40; i++) {
          const dir = i % 2 === 0 ? '/tmp' : '/';
          const r = await c.call('exec.run', { session_id: s.session_id, command: `cd ${dir}; echo ${i}` });
          if (r.working_dir !== dir || r.stdout !== `${i}\n`) wrong.push(`${s.session_id} #${i}: cwd ${r.working_dir}, stdout ${JSON.stringify(r.stdout)}`);
        }
      }),
    );
    for (const s of sessions) await c.call('session.destroy', { session_id: s.session_id, force: true });
    assert.deepEqual(wrong, []);
  });
});
