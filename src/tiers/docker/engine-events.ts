import type Docker from 'dockerode';
import { StringDecoder } from 'node:string_decoder';
import { LABEL_INSTANCE } from './container.js';

const RECONNECT_MS = 500;

export interface ExecWaiter {
  died(exitCode: number): void;
  /** The stream (re)connected: an exit may have been missed, inspect the exec. */
  recheck(): void;
}

interface EngineEvent {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/**
 * The engine's event stream for this daemon's containers: `exec_die` says an
 * exec's main process exited (with its code) the moment it happens, so no
 * command waits for a poll; `oom` counts the OOM kills in each container. One
 * long-lived request for the whole daemon; it reconnects after a failure, and
 * while it is down the exec watchers fall back to polling (see `connected`).
 */
export class EngineEvents {
  private readonly execWaiters = new Map<string, ExecWaiter>();
  private readonly ooms = new Map<string, number>();
  private readonly onConnect = new Set<() => void>();
  private stream: NodeJS.ReadableStream | null = null;
  private starting = false;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  /** True while the stream is open; exec watchers poll fast while it is not. */
  connected = false;

  constructor(
    private readonly docker: Docker,
    private readonly instanceId: string,
  ) {}

  /** Tell `waiter` once when exec `execId` dies; returns the unsubscribe. */
  onExecDie(execId: string, waiter: ExecWaiter): () => void {
    this.ensure();
    this.execWaiters.set(execId, waiter);
    return () => this.execWaiters.delete(execId);
  }

  /** Resolves once the stream is open, or after `ms` (the watchers poll meanwhile). */
  ready(ms = 2000): Promise<void> {
    this.ensure();
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onConnect.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.onConnect.add(done);
    });
  }

  /** OOM kills seen in a container since the stream connected. */
  oomKills(containerId: string): number {
    this.ensure();
    return this.ooms.get(containerId) ?? 0;
  }

  forget(containerId: string): void {
    this.ooms.delete(containerId);
  }

  private ensure(): void {
    if (this.stream || this.starting || this.closed || this.retry) return;
    this.starting = true;
    this.docker
      .getEvents({ filters: { type: ['container'], event: ['exec_die', 'oom'], label: [`${LABEL_INSTANCE}=${this.instanceId}`] } })
      .then((stream) => {
        this.starting = false;
        if (this.closed) return destroy(stream);
        this.stream = stream;
        this.connected = true;
        // An exec that died while the stream was down went unreported: let every watcher look.
        for (const w of this.execWaiters.values()) w.recheck();
        for (const f of this.onConnect) f();
        // The daemon closes it at shutdown; it alone must not keep a process alive.
        (stream as NodeJS.ReadableStream & { socket?: { unref(): void } }).socket?.unref();
        let rest = '';
        const utf8 = new StringDecoder('utf8');
        stream.on('data', (chunk: Buffer) => {
          const lines = (rest + utf8.write(chunk)).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) this.dispatch(line);
        });
        const lost = () => {
          if (this.stream !== stream) return;
          this.stream = null;
          this.connected = false;
          this.scheduleRetry();
        };
        stream.once('end', lost);
        stream.once('close', lost);
        stream.on('error', lost);
      })
      .catch(() => {
        this.starting = false;
        this.scheduleRetry();
      });
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      // Reconnect only while someone is waiting; otherwise the next caller reconnects.
      if (this.execWaiters.size > 0) this.ensure();
    }, RECONNECT_MS);
    this.retry.unref();
  }

  private dispatch(line: string): void {
    let ev: EngineEvent;
    try {
      ev = JSON.parse(line) as EngineEvent;
    } catch {
      return;
    }
    const attrs = ev.Actor?.Attributes ?? {};
    if (ev.Action === 'exec_die' && attrs.execID) {
      const waiter = this.execWaiters.get(attrs.execID);
      const code = Number(attrs.exitCode);
      if (waiter && Number.isInteger(code)) {
        this.execWaiters.delete(attrs.execID);
        waiter.died(code);
      }
    } else if (ev.Action === 'oom') {
      const id = ev.Actor?.ID ?? ev.id;
      if (id) this.ooms.set(id, (this.ooms.get(id) ?? 0) + 1);
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.stream) destroy(this.stream);
    this.stream = null;
    this.connected = false;
    this.execWaiters.clear();
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
