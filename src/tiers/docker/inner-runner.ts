import type Docker from 'dockerode';
import { PassThrough, Writable } from 'node:stream';
import type { ExitStatus, KillScope, SpawnedProcess, SpawnSpec } from '../tier.js';
import { SpawnError } from '../shared/spawn-error.js';
import { settledWithin } from '../shared/timers.js';
import { signalName } from '../shared/signals.js';
import { INNER_OWN_VARS, InnerLink, type InnerEvent } from './inner-link.js';
import { newStateMarker, STATE_WRAPPER, StateTrailer } from './state-trailer.js';

/**
 * Commands (and the state wrapper) make themselves the OOM killer's first
 * choice: the inner trl shares the container's memory ceiling, and a session
 * that hits it must lose its command, not the trl that runs it. (Raising
 * one's own oom_score_adj needs no privilege; lowering the trl's would.)
 */
const OOM_FIRST = 'echo 1000 >/proc/self/oom_score_adj 2>/dev/null; exec "$@"';

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
 * offsets; each spawn is an inner exec.start of the program as argv (with the
 * state wrapper when the shell's state is captured), its output an
 * exec.attach stream, its stdin exec.input, kills exec.signal and
 * exec.cancel. When the inner trl dies, its running commands end (SIGKILL, a
 * line on stderr saying so) and the next spawn starts a new one.
 */
export class InnerRunner {
  private readonly commands = new Map<string, InnerCommand>();

  private constructor(
    readonly link: InnerLink,
    private readonly sessionId: string,
  ) {}

  static async start(container: Docker.Container, opts: { trl: string; user: string; workspace: string }): Promise<InnerRunner> {
    const link = await InnerLink.start(container, opts);
    try {
      const s = await link.call('session.create', { working_dir: opts.workspace, redact_output: false, timeout_s: 0 });
      return new InnerRunner(link, s.session_id);
    } catch (err) {
      link.close();
      throw err;
    }
  }

  get dead(): boolean {
    return this.link.dead;
  }

  spawn(spec: SpawnSpec, tagEnv: [string, string]): SpawnedProcess {
    const marker = spec.stateFd && !spec.pty ? newStateMarker() : null;
    const program = spec.program.kind === 'shell' ? [spec.program.shell, '-c', spec.program.script] : spec.program.argv;
    const unset = INNER_OWN_VARS.filter((k) => !Object.hasOwn(spec.env, k)).flatMap((k) => ['-u', k]);
    const withEnv = unset.length > 0 ? ['env', ...unset, ...program] : program;
    const argv = marker ? ['/bin/sh', '-c', STATE_WRAPPER, 'sh', marker, ...withEnv] : ['/bin/sh', '-c', OOM_FIRST, 'sh', ...withEnv];
    const env = { ...spec.env, [tagEnv[0]]: tagEnv[1] };
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const state = marker ? new PassThrough() : null;
    const trailer = marker ? new StateTrailer(marker) : null;
    const started = this.link.call('exec.start', {
      session_id: this.sessionId,
      argv,
      env,
      working_dir: spec.cwd,
      ...(spec.pty ? { pty: spec.pty, stdin_open: true } : { stdin_open: spec.stdin === 'pipe' }),
    });
    const commandId = started.then((s) => s.command_id);
    const entry: InnerCommand = { commandId, start: started, exited: Promise.resolve({ code: null, signal: null }), signalled: false };
    entry.exited = new Promise<ExitStatus>((resolve) => {
      const finish = (status: ExitStatus, why?: string) => {
        const rest = trailer?.flush();
        if (rest && rest.length > 0) stderr.write(rest);
        if (why) stderr.write(`trl: ${why}\n`);
        stdout.end();
        stderr.end();
        if (state) {
          if (trailer?.state) state.write(trailer.state);
          state.end();
        }
        this.commands.delete(spec.commandTag);
        resolve(status);
      };
      void commandId.then(
        async (id) => {
          let stop = () => undefined as unknown;
          const onEvent = (e: InnerEvent) => {
            if (e.event === 'stdout' || e.event === 'stderr') {
              const bytes = typeof e.data === 'string' ? Buffer.from(e.data, 'base64') : Buffer.alloc(0);
              if (e.event === 'stdout') stdout.write(bytes);
              else stderr.write(trailer ? trailer.push(bytes) : bytes);
            } else if (e.event === 'exit') {
              stop();
              finish(exitOf(e.data, trailer?.status ?? null, entry.signalled));
            } else if (e.event === 'error') {
              stop();
              finish({ code: null, signal: 'SIGKILL' }, `the command's output was cut: ${messageOf(e.data)}`);
            }
          };
          try {
            stop = (await this.link.stream('exec.attach', { command_id: id, encoding: 'base64' }, onEvent)).stop;
          } catch (err) {
            finish({ code: null, signal: 'SIGKILL' }, `the inner trl lost the command: ${(err as Error).message}`);
          }
        },
        () => undefined, // the spawn failed: reported by the caller's await below
      );
    });
    this.commands.set(spec.commandTag, entry);
    const proc: SpawnedProcess = {
      pid: 0,
      stdin: spec.stdin === 'pipe' || spec.pty ? this.stdinOf(commandId) : null,
      stdout,
      stderr,
      state,
      exited: entry.exited,
    };
    if (spec.pty) proc.resize = (cols, rows) => void commandId.then((id) => this.link.call('exec.resize', { command_id: id, cols, rows })).catch(() => undefined);
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
      const info = await this.link.call('exec.info', { command_id: await c.commandId }).catch(() => null);
      if (info?.state === 'running' && info.pid > 0) out.push(info.pid);
    }
    return out;
  }

  async signal(scope: KillScope, signal: NodeJS.Signals): Promise<number> {
    let delivered = 0;
    for (const c of this.inScope(scope)) {
      c.signalled = true;
      const r = await this.link.call('exec.signal', { command_id: await c.commandId, signal }).catch(() => null);
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

/** The exit as the outer daemon tells it: the wrapper's status when it came, a signal when ours killed it. */
function exitOf(data: unknown, wrapperStatus: number | null, signalled: boolean): ExitStatus {
  const d = (data ?? {}) as { exit_code?: unknown; signal?: unknown };
  const sig = typeof d.signal === 'string' ? d.signal : null;
  const code = wrapperStatus ?? (typeof d.exit_code === 'number' ? d.exit_code : null);
  if (sig && wrapperStatus === null) return { code: null, signal: sig as NodeJS.Signals };
  if (code !== null && signalled && code > 128) {
    const name = signalName(code - 128);
    if (name) return { code: null, signal: name };
  }
  return { code, signal: null };
}
