import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { z } from 'zod';
import { LineReader } from '../../protocol/line-reader.js';
import { METHODS, type MethodName, type ResultOf } from '../../protocol/methods.js';

/** The largest line the inner trl may send (an answer or an event): past it the link is cut, as a broken peer. */
const MAX_LINE_BYTES = 8 * 1024 * 1024;
/** The inner trl's last words on stderr kept for the error that reports its death. */
const STDERR_TAIL = 2000;

/** What comes back from inside, checked before anything of it is used: it is untrusted input. */
const Answer = z.object({
  id: z.number().int(),
  ok: z.boolean(),
  data: z.unknown().optional(),
  error: z.object({ code: z.string().max(100), message: z.string().max(4000) }).optional(),
});
const Event = z.object({ stream_id: z.string().max(200), event: z.enum(['stdout', 'stderr', 'gap', 'exit', 'error']), data: z.unknown().optional(), offset: z.number().optional() });

export type InnerEvent = z.infer<typeof Event>;

/** The inner trl refused a request, or died. */
export class InnerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  method: MethodName;
  /** A streaming method's event handler: registered the moment its answer is read, before the events that follow it. */
  onEvent?: (e: InnerEvent) => void;
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * The outer daemon's end of one container's inner trl (`trl rpc` over one
 * long-lived docker exec, docs/docker-tier.md): requests with ids of its own,
 * answers matched by id and checked against the protocol's result schemas,
 * events routed by stream id. The exec belongs to this one session's
 * container, so nothing from inside can reach another session's answers;
 * whatever does not parse, is too long, or names no open request or stream
 * is dropped (and a malformed answer fails its request).
 */
export class InnerLink {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<string, (e: InnerEvent) => void>();
  private readonly deathFns = new Set<(why: string) => void>();
  private deadReason: string | null = null;
  private stderrTail = '';

  private constructor(private readonly sock: Duplex) {}

  /** Start `trl rpc` in the container as its user; resolves once it answers a ping. */
  static async start(container: Docker.Container, opts: { trl: string; user: string; workspace: string }): Promise<InnerLink> {
    const exec = await container.exec({
      // env -i: the inner daemon's own environment would otherwise reach every command (the outer sends each one's whole);
      // node needs a HOME when the user has no passwd entry (INNER_OWN_VARS: taken away again from commands).
      Cmd: ['env', '-i', `HOME=${opts.workspace}`, opts.trl, 'rpc', ...INNER_FLAGS, '--default-working-dir', opts.workspace],
      User: opts.user,
      WorkingDir: opts.workspace,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    const sock = await exec.start({ hijack: true, stdin: true, Detach: false, Tty: false });
    const link = new InnerLink(sock);
    link.attach(container.modem as { demuxStream(s: Duplex, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void });
    await link.call('system.ping', {});
    return link;
  }

  private attach(modem: { demuxStream(s: Duplex, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void }): void {
    const out = new PassThrough();
    const err = new PassThrough();
    modem.demuxStream(this.sock, out, err);
    const reader = new LineReader(
      MAX_LINE_BYTES,
      (line) => this.onLine(line),
      () => this.die(`the inner trl sent a line over ${MAX_LINE_BYTES} bytes`),
    );
    out.on('data', (chunk: Buffer) => reader.push(chunk));
    err.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL)));
    this.sock.on('error', (e: Error) => this.die(`the inner trl's stream failed: ${e.message}`));
    this.sock.on('end', () => this.die('the inner trl exited'));
    this.sock.on('close', () => this.die('the inner trl exited'));
  }

  get dead(): boolean {
    return this.deadReason !== null;
  }

  /** Called once, when the inner trl has died (at once if it already has). */
  onDeath(fn: (why: string) => void): () => void {
    if (this.deadReason !== null) {
      fn(this.deadReason);
      return () => undefined;
    }
    this.deathFns.add(fn);
    return () => this.deathFns.delete(fn);
  }

  /** One request; its answer's data, checked against the method's result schema. */
  call<M extends MethodName>(method: M, params: Record<string, unknown>): Promise<ResultOf<M>> {
    if (this.deadReason !== null) return Promise.reject(new InnerError('INNER_DEAD', this.deadReason));
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (d: unknown) => void, reject });
      this.sock.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /**
   * A streaming request (exec.stream, exec.attach): `onEvent` gets its events
   * from the first (registered as its answer is read, before the events that
   * follow it); the answer's data and the unsubscribe.
   */
  async stream<M extends 'exec.stream' | 'exec.attach'>(method: M, params: Record<string, unknown>, onEvent: (e: InnerEvent) => void): Promise<ResultOf<M> & { stop: () => void }> {
    if (this.deadReason !== null) throw new InnerError('INNER_DEAD', this.deadReason);
    const id = this.nextId++;
    const data = await new Promise<ResultOf<M>>((resolve, reject) => {
      this.pending.set(id, { method, onEvent, resolve: resolve as (d: unknown) => void, reject });
      this.sock.write(JSON.stringify({ id, method, params }) + '\n');
    });
    return { ...data, stop: () => this.streams.delete(data.stream_id) };
  }

  /** End the inner trl: its stdin closes, it shuts down (killing what it runs). */
  close(): void {
    this.sock.end();
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not protocol: dropped
    }
    const ev = Event.safeParse(msg);
    if (ev.success) {
      this.streams.get(ev.data.stream_id)?.(ev.data);
      if (ev.data.event === 'exit') this.streams.delete(ev.data.stream_id); // a stream's last event
      return;
    }
    const ans = Answer.safeParse(msg);
    if (!ans.success) return;
    const p = this.pending.get(ans.data.id);
    if (!p) return;
    this.pending.delete(ans.data.id);
    if (!ans.data.ok) {
      p.reject(new InnerError(ans.data.error?.code ?? 'INTERNAL', ans.data.error?.message ?? 'the inner trl refused the request'));
      return;
    }
    const data = METHODS[p.method].result.safeParse(ans.data.data);
    if (data.success && p.onEvent) this.streams.set((data.data as { stream_id: string }).stream_id, p.onEvent);
    if (data.success) p.resolve(data.data);
    else p.reject(new InnerError('INNER_PROTOCOL', `the inner trl answered ${p.method} with data that does not fit the protocol`));
  }

  private die(why: string): void {
    if (this.deadReason !== null) return;
    const last = this.stderrTail.trim().split('\n').at(-1);
    this.deadReason = last ? `${why} (its last words: ${last.slice(0, 300)})` : why;
    for (const p of this.pending.values()) p.reject(new InnerError('INNER_DEAD', this.deadReason));
    this.pending.clear();
    for (const fn of this.streams.values()) fn({ stream_id: '', event: 'error', data: { message: this.deadReason } });
    this.streams.clear();
    for (const fn of this.deathFns) fn(this.deadReason);
    this.deathFns.clear();
    this.sock.destroy();
  }
}

/**
 * Variables the inner trl's own environment has (HOME given by the outer, the
 * rest exported by a launcher shell script): its session unsets them, so that
 * a command gets exactly the outer session's environment.
 */
export const INNER_OWN_VARS = ['HOME', 'PATH', 'PWD', 'OLDPWD', 'SHLVL'];

/**
 * The inner daemon's settings: host tier only, the outer daemon keeps every
 * bound, timeout and retention of its own, so the inner one keeps none that
 * could end a session or a command behind its back.
 */
const INNER_FLAGS = [
  '--runtime',
  'host',
  '--tiers',
  'host',
  '--log-level',
  'warn',
  '--max-idle-s',
  '0',
  '--session-ttl-s',
  '0',
  '--session-max-commands',
  '100000000',
  '--default-timeout-s',
  '0',
  '--max-output-bytes',
  String(64 * 1024 * 1024),
  '--command-retention-s',
  '5',
  // No cgroups of its own (the container is one); the container's OOM kills count as its commands' (exact, at their exit).
  '--cgroups',
  'container',
  '--kill-grace-s',
  '0',
];
