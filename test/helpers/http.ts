/**
 * Test harness for the HTTP and WebSocket transports: start a real daemon
 * with --http on a free loopback port, read its URL from its log, and talk to
 * it with raw HTTP(S) requests, raw WebSockets or the SDK's HTTP/WS clients.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import WebSocket from 'ws';
import { type Daemon, startDaemon, type StartOptions } from './daemon.js';
import { DEADLINE_MS, waitFor } from './wait.js';

export function makeToken(): string {
  return randomBytes(32).toString('hex');
}

export interface HttpDaemon {
  d: Daemon;
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  token: string;
}

export interface HttpStartOptions extends Omit<StartOptions, 'noWait'> {
  /** --http value; default 127.0.0.1:0 (any free port, read back from the log). */
  http?: string;
  /** Default: a fresh 64-character token. */
  token?: string;
  /** false: TRL_UNIX_SOCKET=0 (HTTP only). */
  unixSocket?: boolean;
}

/** The `http` field of the daemon's "trl listening" log line, or null while it is not there. */
function loggedHttpUrl(d: Daemon): string | null {
  for (const line of d.stderr().split('\n')) {
    if (!line.includes('"trl listening"')) continue;
    try {
      const url = (JSON.parse(line) as { http?: unknown }).http;
      if (typeof url === 'string') return url;
    } catch {
      /* a partial line: read again */
    }
  }
  return null;
}

/** The URL the daemon serves HTTP on, once it logged it. */
export async function waitForHttpUrl(d: Daemon): Promise<string> {
  await waitFor(() => loggedHttpUrl(d) !== null || d.hasExited());
  const url = loggedHttpUrl(d);
  if (url !== null) return url;
  if (d.hasExited()) throw new Error(`the daemon exited before serving HTTP.\nstderr:\n${d.stderr()}\nstdout:\n${d.stdout()}`);
  await d.stop();
  throw new Error(`the daemon did not log an HTTP URL.\nstderr:\n${d.stderr()}`);
}

export async function startHttpDaemon(opts: HttpStartOptions = {}): Promise<HttpDaemon> {
  const token = opts.token ?? makeToken();
  const env: Record<string, string> = { TRL_AUTH_TOKEN: token, ...(opts.env ?? {}) };
  if (opts.unixSocket === false) env.TRL_UNIX_SOCKET = '0';
  const d = await startDaemon({
    ...opts,
    flags: ['--http', opts.http ?? '127.0.0.1:0', ...(opts.flags ?? [])],
    env,
    noWait: opts.unixSocket === false,
  });
  const url = await waitForHttpUrl(d);
  return { d, url, port: Number(new URL(url).port), token };
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** True when a TCP connection to host:port is accepted. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  ca?: string | Buffer;
}

/** One raw HTTP(S) request with no client smarts; resolves with the whole answer. */
/** Collect a response body; `json` is its parse, or undefined when it is not JSON. */
function readBody(res: http.IncomingMessage, done: (body: string, json: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    done(body, json);
  });
}

export function request(url: string, opts: RequestOptions = {}): Promise<HttpAnswer> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (opts.body !== undefined && !opts.chunked) headers['Content-Length'] = Buffer.byteLength(opts.body);
    const req = mod.request(u, { method: opts.method ?? 'GET', headers, agent: false, ca: opts.ca }, (res) => {
      readBody(res, (body, json) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) {
      if (opts.chunked) {
        const b = Buffer.from(opts.body);
        for (let i = 0; i < b.length; i += 512) req.write(b.subarray(i, i + 512));
      } else req.write(opts.body);
    }
    req.end();
  });
}

/** POST /v1/rpc with one envelope and the bearer token. */
export function rpc(h: HttpDaemon, method: string, params: unknown = {}, id: string | number = 1, extraHeaders: Record<string, string> = {}, ca?: Buffer): Promise<HttpAnswer> {
  return request(`${h.url}/v1/rpc`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', ...extraHeaders },
    body: JSON.stringify({ id, method, params }),
    ca,
  });
}

export interface NdjsonLine {
  at: number;
  msg: any;
}

export interface NdjsonStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Resolves with every line (and when it came) once the body has ended. */
  done: Promise<NdjsonLine[]>;
  /** Lines received so far. */
  lines: NdjsonLine[];
  /** Resolves once at least n lines have arrived. */
  waitLines(n: number, timeoutMs?: number): Promise<NdjsonLine[]>;
  /** Drop the connection (a client that goes away mid-stream). */
  abort(): void;
  /** Resolves when the body ended (true) or the connection closed first (false). */
  ended: Promise<boolean>;
}

/** POST a streaming method and read the NDJSON body line by line, timing each line. */
export function rpcStream(h: HttpDaemon, method: string, params: unknown, id: string | number = 1, ca?: Buffer): Promise<NdjsonStream> {
  const u = new URL(`${h.url}/v1/rpc`);
  const mod = u.protocol === 'https:' ? https : http;
  const body = JSON.stringify({ id, method, params });
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: 'POST', agent: false, ca, headers: { Authorization: `Bearer ${h.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const lines: NdjsonLine[] = [];
        let buf = '';
        let wake: (() => void)[] = [];
        let endedResolve!: (v: boolean) => void;
        const ended = new Promise<boolean>((r) => (endedResolve = r));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim().length > 0) lines.push({ at: Date.now(), msg: JSON.parse(line) });
          }
          for (const w of wake.splice(0)) w();
        });
        res.on('end', () => {
          if (buf.trim().length > 0) lines.push({ at: Date.now(), msg: JSON.parse(buf) });
          endedResolve(true);
          for (const w of wake.splice(0)) w();
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          endedResolve(false);
          for (const w of wake.splice(0)) w();
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          lines,
          ended,
          done: ended.then(() => lines),
          abort: () => {
            req.destroy();
            res.destroy();
          },
          waitLines: async (n, timeoutMs = DEADLINE_MS) => {
            const deadline = Date.now() + timeoutMs;
            let closed = false;
            void ended.then(() => (closed = true));
            while (lines.length < n) {
              if (closed) throw new Error(`the stream ended after ${lines.length} lines, ${n} were expected: ${JSON.stringify(lines.map((l) => l.msg))}`);
              const left = deadline - Date.now();
              if (left <= 0) throw new Error(`only ${lines.length} lines within ${timeoutMs} ms`);
              await new Promise<void>((r) => {
                const t = setTimeout(r, left);
                wake.push(() => {
                  clearTimeout(t);
                  r();
                });
              });
            }
            return lines;
          },
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface RawWs {
  ws: WebSocket;
  send(msg: unknown): void;
  /** The next message, parsed (with the time it came). */
  next(timeoutMs?: number): Promise<any>;
  /** Messages until one satisfies pred (returned; the skipped ones are kept for later). */
  nextWhere(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  received: Array<{ at: number; msg: any }>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Open a WebSocket to /v1/ws; rejects with {status, body} when the upgrade is refused. */
export function openWs(h: { url: string }, opts: { token?: string | null; protocols?: string[]; headers?: Record<string, string>; ca?: Buffer; path?: string; origin?: string } = {}): Promise<RawWs> {
  const url = h.url.replace(/^http/, 'ws') + (opts.path ?? '/v1/ws');
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers, ca: opts.ca, perMessageDeflate: false, origin: opts.origin });
    const queue: any[] = [];
    const received: Array<{ at: number; msg: any }> = [];
    let wake: (() => void)[] = [];
    let isClosed = false;
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => {
        isClosed = true;
        for (const w of wake.splice(0)) w();
        r({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      received.push({ at: Date.now(), msg });
      queue.push(msg);
      for (const w of wake.splice(0)) w();
    });
    ws.once('unexpected-response', (_req, res) => {
      readBody(res, (body, json) => {
        reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode, headers: res.headers, body, json }));
        ws.terminate();
      });
    });
    ws.once('error', (e) => reject(e));
    const nextWhere = async (pred: (m: any) => boolean, timeoutMs = DEADLINE_MS) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex(pred);
        if (i >= 0) return queue.splice(i, 1)[0];
        if (isClosed) throw new Error(`the WebSocket closed; unmatched messages: ${JSON.stringify(queue).slice(0, 500)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; have ${JSON.stringify(queue).slice(0, 500)}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    };
    ws.once('open', () =>
      resolve({
        ws,
        received,
        closed,
        send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
        next: (timeoutMs) => nextWhere(() => true, timeoutMs),
        nextWhere,
        close: () => ws.close(),
      }),
    );
  });
}

/** A self-signed certificate for localhost/127.0.0.1 made with openssl, in dir. */
export function selfSignedCert(dir: string): { cert: string; key: string; certPem: Buffer } {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key, certPem: fs.readFileSync(cert) };
}
