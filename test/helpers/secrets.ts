/**
 * Helpers for the secret-handling tests (redaction, .env, audit log, planted
 * secret): a raw connection that records every line the daemon sent, the
 * `trl` CLI as a subprocess, file scans for a planted value, and .env files.
 * Everything drives the real daemon; nothing is simulated.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collectRaw, type Collected } from './streams.js';
import { type Daemon, MAIN_JS } from './daemon.js';
import { rawCall, rawConnect, type RawConnection, type RawLine } from './raw-connection.js';

export const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** A fresh, unguessable value that looks like a real secret. */
export function newSecret(prefix = 'S3cr3t-'): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** `text` with every occurrence of the secrets replaced by `<SECRET>`: safe to put in an assertion message. */
export function mask(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('<SECRET>');
  return out;
}

/** Where `needle` occurs in `text`, shown masked with some context (for failure messages). */
export function around(text: string, needle: string, width = 200): string {
  const at = text.indexOf(needle);
  if (at < 0) return '';
  return mask(text.slice(Math.max(0, at - width), at + needle.length + width), [needle]);
}

// ---------------------------------------------------------------- recording connection

export interface StreamResult {
  response: RawLine;
  collected: Collected;
}

/**
 * A raw NDJSON connection that keeps every line the daemon sent (responses and
 * events alike) so a test can search all of them afterwards.
 */
export class Recorder {
  private n = 0;
  private constructor(readonly conn: RawConnection) {}

  static async open(d: Daemon | string): Promise<Recorder> {
    return new Recorder(await rawConnect(typeof d === 'string' ? d : d.socketPath));
  }

  /** One request; returns the whole response envelope (ok or error). */
  call(method: string, params?: Record<string, unknown>): Promise<RawLine> {
    return rawCall(this.conn, `r${++this.n}`, method, params);
  }

  /** A call that must succeed; returns its data. */
  async ok(method: string, params?: Record<string, unknown>, secrets: string[] = []): Promise<any> {
    const r = await this.call(method, params);
    assert.equal(r.ok, true, `${method} failed: ${mask(JSON.stringify(r), secrets).slice(0, 600)}`);
    return r.data;
  }

  /** exec.stream / exec.attach: the response, then every event of that stream up to exit/error. */
  async stream(method: 'exec.stream' | 'exec.attach', params: Record<string, unknown>, secrets: string[] = []): Promise<StreamResult> {
    const response = await this.call(method, params);
    assert.equal(response.ok, true, `${method} failed: ${mask(JSON.stringify(response), secrets).slice(0, 600)}`);
    const collected = await collectRaw(this.conn, response.data.stream_id as string);
    return { response, collected };
  }

  /** Send a raw line (not necessarily valid JSON) and return the next line the daemon answers with. */
  async sendRaw(line: string): Promise<RawLine> {
    this.conn.send(line);
    return this.conn.next();
  }

  /** Every line received on this connection so far. */
  get received(): string[] {
    return this.conn.received;
  }

  close(): void {
    this.conn.close();
  }
}

// ---------------------------------------------------------------- CLI

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `trl <args>` (the compiled CLI) to completion. */
export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN_JS, ...args], { env: { ...process.env, ...(opts.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`trl ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 15_000} ms`));
    }, opts.timeoutMs ?? 15_000);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------- files

/** Write a file with exactly `mode` (whatever the umask). */
export function writeFileMode(file: string, content: string, mode: number): void {
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Every regular file under dir (recursively, no symlinks followed), at most `maxDepth` levels deep. */
export function filesUnder(dir: string, maxDepth = 8): string[] {
  const out: string[] = [];
  const walk = (p: string, depth: number) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      if (depth >= maxDepth) return;
      let names: string[] = [];
      try {
        names = fs.readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(path.join(p, n), depth + 1);
    } else if (st.isFile()) {
      out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** Regular files under /tmp modified after `marker` (as `find /tmp -newer marker -type f` lists them). */
export function tmpFilesNewerThan(marker: string): string[] {
  // find exits 1 when a file vanishes under it (other tests clean up): take what it printed anyway
  const r = spawnSync('find', ['/tmp', '-newer', marker, '-type', 'f'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

export interface FileHit {
  file: string;
  context: string;
}

/**
 * The files among `files` (readable regular files under 64 MiB) whose bytes
 * contain one of the needles; unreadable or vanished files are skipped.
 * Returns the hits with masked context, and how many files were actually read.
 */
export function scanFiles(files: string[], needles: string[]): { hits: FileHit[]; read: number } {
  const hits: FileHit[] = [];
  let read = 0;
  for (const f of files) {
    let content: string;
    try {
      const st = fs.lstatSync(f);
      if (!st.isFile() || st.size > 64 * 1024 * 1024) continue;
      content = fs.readFileSync(f, 'latin1');
    } catch {
      continue;
    }
    read++;
    for (const n of needles) {
      if (content.includes(n)) {
        hits.push({ file: f, context: mask(around(content, n, 120), needles) });
        break;
      }
    }
  }
  return { hits, read };
}

/** File mode bits as an octal string, e.g. '600'. */
export function modeOf(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8);
}
