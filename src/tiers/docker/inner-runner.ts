import type Docker from 'dockerode';
import { PassThrough, Writable } from 'node:stream';
import type { ExitStatus, KillScope, SpawnedProcess, SpawnSpec } from '../tier.js';
import { SpawnError } from '../shared/spawn-error.js';
import { settledWithin } from '../shared/timers.js';
import { signalName } from '../shared/signals.js';
import { INNER_OWN_VARS, InnerLink, type InnerEvent } from './inner-link.js';

/**
 * Commands make themselves the OOM killer's first choice: the inner trl
 * shares the container's memory ceiling, and a session that hits it must
 * lose its command, not the trl that runs it. (Raising one's own
 * oom_score_adj needs no privilege; lowering the trl's would.) A shell
 * program does it before its script, on the script's first line (so that the
 * line numbers in the shell's messages stay the script's), with a builtin:
 * no process of its own; an argv program is started through `sh`, which then
 * execs it. stderr is redirected first: no message when /proc is not there.
 */
const OOM_FIRST_PREFIX = 'echo 1000 2>/dev/null >/proc/self/oom_score_adj; ';
const OOM_FIRST = 'echo 1000 2>/dev/null >/proc/self/oom_score_adj; exec "$@"';

/** Base64 bytes per exec.input request: stdin travels in pieces well under the inner trl's request bound. */
const INPUT_PIECE = 1024 * 1024;

interface InnerCommand {
  commandId: Promise<string>;
  start: Promise<{ pid: number }>;
  exited: Promise<ExitStatus>;
  /** A signal of ours was sent to its tree: an exit status 128+N means signal N. */
  signalled: boolean;
}

/**
 * The inner path of one docker session (docs/docker-tier.md): the session's
 * commands run through the trl inside its container, one inner session of the
 * host tier. The outer daemon keeps the session's state, buffers, ids and
 * offsets; each spawn is one inner exec.stream request (`background`, so
 * that commands run side by side; `fd3` when the shell's state is captured:
 * it comes back in the exit event), its stdin exec.input, kills exec.signal
 * and exec.cancel. When the inner trl dies, its running commands end
 * (SIGKILL, a line on stderr saying so) and the next spawn starts a new one.
 */
export class InnerRunner {
  private readonly commands = new Map<string, InnerCommand>();

  private constructor(
    readonly link: InnerLink,
    private readonly sessionId: string,
    private readonly onOom: () => void,
  ) {}

  /** Start the inner trl and its session; `onOom` is told of each command the inner trl reports OOM kills for (DockerSession.oomKills). */
  static async start(container: Docker.Container, opts: { trl: string; user: string; workspace: string; onOom: () => void }): Promise<InnerRunner> {
    const link = await InnerLink.start(container, opts);
    try {
      const s = await link.call('session.create', { working_dir: opts.workspace, redact_output: false, timeout_s: 0 });
      // The inner trl's own variables are not the session's: each command carries the outer session's whole environment.
      await link.call('session.update', { session_id: s.session_id, unset_env: INNER_OWN_VARS });
      return new InnerRunner(link, s.session_id, opts.onOom);
    } catch (err) {
      link.close();
      throw err;
    }
  }

  get dead(): boolean {
    return this.link.dead;
  }

  spawn(spec: SpawnSpec, tagEnv: [string, string]): SpawnedProcess {
    const captured = spec.stateFd && !spec.pty;
    const argv = spec.program.kind === 'shell' ? [spec.program.shell, '-c', OOM_FIRST_PREFIX + spec.program.script] : ['/bin/sh', '-c', OOM_FIRST, 'sh', ...spec.program.argv];
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const state = captured ? new PassThrough() : null;
    let resolveStart!: (s: { command_id: string; pid: number }) => void;
    let rejectStart!: (err: Error) => void;
    const started = new Promise<{ command_id: string; pid: number }>((resolve, reject) => {
      resolveStart = resolve;
      rejectStart = reject;
    });
    const entry: InnerCommand = { commandId: started.then((s) => s.command_id), start: started, exited: Promise.resolve({ code: null, signal: null }), signalled: false };
    entry.exited = new Promise<ExitStatus>((resolve) => {
      let done = false;
      const finish = (status: ExitStatus, why?: string, fd3?: Buffer) => {
        if (done) return;
        done = true;
        if (why) stderr.write(`trl: ${why}\n`);
        stdout.end();
        stderr.end();
        if (state) {
          if (fd3 && fd3.length > 0) state.write(fd3);
          state.end();
        }
        this.commands.delete(spec.commandTag);
        resolve(status);
      };
      const onEvent = (e: InnerEvent) => {
        if (e.event === 'stdout' || e.event === 'stderr') {
          const bytes = typeof e.data === 'string' ? Buffer.from(e.data, 'base64') : Buffer.alloc(0);
          (e.event === 'stdout' ? stdout : stderr).write(bytes);
        } else if (e.event === 'exit') {
          const d = (e.data ?? {}) as { oom_killed?: unknown; fd3?: unknown };
          if (d.oom_killed === true) this.onOom();
          finish(exitOf(e.data, entry.signalled), undefined, typeof d.fd3 === 'string' ? Buffer.from(d.fd3, 'base64') : undefined);
        } else if (e.event === 'error') {
          finish({ code: null, signal: 'SIGKILL' }, `the command's output was cut: ${messageOf(e.data)}`);
        }
      };
      this.link
        .stream(
          'exec.stream',
          {
            session_id: this.sessionId,
            argv,
            env: { ...spec.env, [tagEnv[0]]: tagEnv[1] },
            working_dir: spec.cwd,
            encoding: 'base64',
            background: true,
            ...(captured ? { fd3: true } : {}),
            ...(spec.pty ? { pty: spec.pty, stdin_open: true } : { stdin_open: spec.stdin === 'pipe' }),
          },
          onEvent,
        )
        .then(
          (s) => resolveStart({ command_id: s.command_id, pid: s.pid }),
          (err: Error) => {
            rejectStart(err);
            finish({ code: null, signal: 'SIGKILL' }, `the inner trl could not start the command: ${err.message}`);
          },
        );
    });
    // Its rejection is reported by started() below; a kill in the meantime must not see it as unhandled.
    entry.commandId.catch(() => undefined);
    this.commands.set(spec.commandTag, entry);
    const proc: SpawnedProcess = {
      pid: 0,
      stdin: spec.stdin === 'pipe' || spec.pty ? this.stdinOf(entry.commandId) : null,
      stdout,
      stderr,
      state,
      exited: entry.exited,
    };
    if (spec.pty) proc.resize = (cols, rows) => void entry.commandId.then((id) => this.link.call('exec.resize', { command_id: id, cols, rows })).catch(() => undefined);
    return proc;
  }

  /** Wait until the inner trl has started the command (its pid), or throw a SpawnError. */
  async started(proc: SpawnedProcess, commandTag: string): Promise<SpawnedProcess> {
    const entry = this.commands.get(commandTag);
    if (!entry) return proc;
    try {
      proc.pid = (await entry.start).pid;
    } catch (err) {
      this.commands.delete(commandTag);
      throw new SpawnError(`the trl inside the container could not start the command: ${(err as Error).message}`, 'EINNER');
    }
    return proc;
  }

  private stdinOf(commandId: Promise<string>): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        void (async () => {
          const id = await commandId;
          for (let at = 0; at < chunk.length; at += INPUT_PIECE) {
            await this.link.call('exec.input', { command_id: id, data: chunk.subarray(at, at + INPUT_PIECE).toString('base64'), encoding: 'base64' });
          }
        })().then(
          () => cb(),
          (err: Error) => cb(err),
        );
      },
      final: (cb) => {
        void commandId
          .then((id) => this.link.call('exec.input', { command_id: id, eof: true }))
          .then(
            () => cb(),
            () => cb(), // already exited: its stdin is closed anyway
          );
      },
    });
  }

  private inScope(scope: KillScope): InnerCommand[] {
    if (scope.commandTag === null) return [...this.commands.values()];
    const c = this.commands.get(scope.commandTag);
    return c ? [c] : [];
  }

  async processes(scope: KillScope): Promise<number[]> {
    const out: number[] = [];
    for (const c of this.inScope(scope)) {
      const id = await c.commandId.catch(() => null);
      const info = id ? await this.link.call('exec.info', { command_id: id }).catch(() => null) : null;
      if (info?.state === 'running' && info.pid > 0) out.push(info.pid);
    }
    return out;
  }

  async signal(scope: KillScope, signal: NodeJS.Signals): Promise<number> {
    let delivered = 0;
    for (const c of this.inScope(scope)) {
      c.signalled = true;
      const id = await c.commandId.catch(() => null);
      const r = id ? await this.link.call('exec.signal', { command_id: id, signal }).catch(() => null) : null;
      delivered += r?.delivered ?? 0;
    }
    return delivered;
  }

  /** SIGTERM the commands' trees, wait the grace, then the inner trl's cancel (its grace is 0: SIGKILL) for what is left. */
  async terminate(scope: KillScope, graceMs: number): Promise<number> {
    const cmds = this.inScope(scope);
    const signalled = graceMs > 0 ? await this.signal(scope, 'SIGTERM') : 0;
    if (graceMs > 0) await settledWithin(Promise.all(cmds.map((c) => c.exited)), graceMs);
    for (const c of cmds) c.signalled = true;
    const ids = await Promise.all(cmds.map((c) => c.commandId.catch(() => null)));
    let cancelled = 0;
    if (scope.commandTag === null) {
      cancelled = (await this.link.call('exec.cancel', { session_id: this.sessionId }).catch(() => null))?.cancelled.length ?? 0;
    } else {
      for (const id of ids) if (id) cancelled += (await this.link.call('exec.cancel', { command_id: id }).catch(() => null))?.cancelled.length ?? 0;
    }
    return Math.max(signalled, cancelled);
  }

  close(): void {
    this.link.close();
  }
}

function messageOf(data: unknown): string {
  const m = (data as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m.slice(0, 500) : 'the inner trl stopped';
}

/** The exit as the outer daemon tells it: the inner trl's, with a status 128+N read as signal N when ours killed it. */
function exitOf(data: unknown, signalled: boolean): ExitStatus {
  const d = (data ?? {}) as { exit_code?: unknown; signal?: unknown };
  const sig = typeof d.signal === 'string' ? d.signal : null;
  if (sig) return { code: null, signal: sig as NodeJS.Signals };
  const code = typeof d.exit_code === 'number' ? d.exit_code : null;
  if (code !== null && signalled && code > 128) {
    const name = signalName(code - 128);
    if (name) return { code: null, signal: name };
  }
  return { code, signal: null };
}
