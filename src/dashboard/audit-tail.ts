import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';

/** Entries the page shows, and how much of the file's end is read for them. */
const TAIL_LINES = 50;
const TAIL_BYTES = 64 * 1024;

/**
 * The end of the audit log (`--audit-log`) for the page: its last lines,
 * parsed, re-read when the file changes (inotify, no polling). The entries
 * are the log's own: command text already redacted, env keys only.
 */
export class AuditTail {
  private watcher: FSWatcher | null = null;
  private cached: { size: number; entries: Record<string, unknown>[] } | null = null;

  constructor(readonly path: string | null) {}

  /** Call `onChange` when the file is written to, until stop(). */
  start(onChange: () => void): void {
    if (this.path === null || this.watcher) return;
    try {
      this.watcher = watch(this.path, { persistent: false }, () => onChange());
      this.watcher.on('error', () => this.stop());
    } catch {
      /* no file yet (or gone): the page shows the log as empty */
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  entries(): Record<string, unknown>[] {
    if (this.path === null) return [];
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (this.cached?.size === size) return this.cached.entries;
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split('\n');
      if (start > 0) lines.shift(); // a partial first line
      const entries: Record<string, unknown>[] = [];
      for (const line of lines.slice(-TAIL_LINES - 1)) {
        if (line.trim() === '') continue;
        try {
          const { hash: _h, prev: _p, mac: _m, ...entry } = JSON.parse(line) as Record<string, unknown>;
          entries.push(entry);
        } catch {
          /* a line being written */
        }
      }
      this.cached = { size, entries: entries.slice(-TAIL_LINES) };
      return this.cached.entries;
    } finally {
      closeSync(fd);
    }
  }
}
