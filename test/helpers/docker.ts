/**
 * Helpers for the docker tier's tests (docs/security.md, isolation tiers): whether a real engine and
 * the test image are here, a TCP proxy to the engine's Unix socket (to reach
 * it as DOCKER_HOST=tcp://…), what the engine says about a container, and
 * running one command through a backend session directly.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { TierSession, ExitStatus, SpawnSpec } from '../../src/tiers/tier.js';
import { ensureTestImage, TEST_IMAGE } from './tiers.js';
import { waitFor } from './wait.js';

export { ensureTestImage, TEST_IMAGE };
export { removeWorkspace, tierWorkspace, WORKSPACE_UID } from './tiers.js';

export const DOCKER_SOCKET = '/var/run/docker.sock';

function docker(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/**
 * The `skip` option of a suite that needs the engine and the test image:
 * false when both are here (the image is built if missing); the printed reason
 * otherwise; throws under TRL_REQUIRE_TIERS=1 (CI), where a skip must fail.
 */
export function dockerSkip(what: string): string | false {
  let reason: string | null = null;
  if (spawnSync('sh', ['-c', 'command -v docker'], { stdio: 'ignore' }).status !== 0) reason = 'the docker CLI is not installed (apt-get install -y docker.io)';
  else if (!docker(['info']).ok) reason = 'the Docker engine is unreachable (start dockerd or set DOCKER_HOST)';
  else reason = ensureTestImage(TEST_IMAGE);
  if (reason === null) return false;
  const full = `${reason}: ${what} cannot be tested`;
  if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${full}`);
  console.log(`# skipping: ${full}`);
  return full;
}

/** `docker inspect` of a container as raw JSON text, or null when the engine knows no such container. */
export function inspectRaw(id: string): string | null {
  const r = docker(['inspect', id]);
  return r.ok ? r.out : null;
}

/** The processes of a container as the engine's host sees them (`docker top`), header excluded. */
export function containerTop(id: string): string[] {
  const r = docker(['top', id, '-o', 'pid,args']);
  if (!r.ok) throw new Error(`docker top ${id}: ${r.err}`);
  return r.out.trim().split('\n').slice(1);
}

/** Names of containers carrying `label` (KEY or KEY=VALUE), stopped ones included. */
export function containersLabelled(label: string): string[] {
  const r = docker(['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}']);
  return r.out.split('\n').filter(Boolean);
}

export function dockerCli(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', timeout: 60_000 });
}

/**
 * A TCP listener on 127.0.0.1 that forwards each connection to the engine's
 * Unix socket, both ways, half-closes included (an exec's stdin EOF is a
 * half-close of the hijacked connection).
 */
export async function startTcpProxy(socketPath = DOCKER_SOCKET): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    count++;
    const upstream = net.createConnection({ path: socketPath, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Ran {
  status: ExitStatus;
  stdout: string;
  stderr: string;
  state: string | null;
  /** From spawn to `exited`, ms. */
  ms: number;
}

/** Spawn through a backend session, feed stdin, collect everything until the main process exits and its output streams have ended. */
export async function runIn(
  session: TierSession,
  spec: Partial<SpawnSpec> & { script?: string; input?: string; onSpawn?: (p: Awaited<ReturnType<TierSession['spawn']>>) => void | Promise<void> },
): Promise<Ran> {
  const t0 = performance.now();
  const proc = await session.spawn({
    program: spec.program ?? { kind: 'shell', shell: '/bin/sh', script: spec.script ?? 'true' },
    env: spec.env ?? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' },
    cwd: spec.cwd ?? '/',
    stdin: spec.input !== undefined ? 'pipe' : (spec.stdin ?? 'ignore'),
    stateFd: spec.stateFd ?? false,
    commandTag: spec.commandTag ?? `t${Math.random().toString(36).slice(2, 8)}`,
    pty: spec.pty,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const st: Buffer[] = [];
  proc.stdout.on('data', (c: Buffer) => out.push(c));
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  proc.state?.on('data', (c: Buffer) => st.push(c));
  const streams = [proc.stdout, proc.stderr, ...(proc.state ? [proc.state] : [])];
  let ended = 0;
  for (const s of streams) s.once('end', () => ended++);
  if (spec.input !== undefined) proc.stdin!.end(spec.input);
  await spec.onSpawn?.(proc);
  const status = await proc.exited;
  const ms = performance.now() - t0;
  assert.ok(await waitFor(() => ended === streams.length), `the exec exited but ${streams.length - ended} of its output streams never ended`);
  return {
    status,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    state: proc.state ? Buffer.concat(st).toString('utf8') : null,
    ms,
  };
}

/** A pid that is certainly not running now: a child that has exited. */
export function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(String(r.stdout).trim());
}
