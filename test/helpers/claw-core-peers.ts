/**
 * claw-core's own clients (its Python scripts, smoke.sh and its Rust crate's
 * wire types), used in place as trl's compatibility tests: never copied into
 * the repository. They live in `../shared/peers/claw-core` beside the
 * repository (a clean clone in CI has the same layout), or where
 * TRL_CLAW_CORE_PEERS points. Where they are absent a test says so and
 * skips — except under TRL_REQUIRE_TIERS=1 (CI), where that is a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './daemon.js';

export const PEER_FILES = ['claw_core_exec.py', 'claw_core_sessions.py', 'claw_core_stats.py', 'claw_status.py', 'smoke.sh', 'crates/types.rs'] as const;

export interface Peers {
  /** The directory holding the clients, or null. */
  dir: string | null;
  /** Why they cannot be run here, or null. */
  missing: string | null;
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p.startsWith('/') ? p : null;
}

/** Where claw-core's clients are, and whether what they need (python3, zsh, bash) is installed. */
export function clawCorePeers(): Peers {
  const dir = process.env.TRL_CLAW_CORE_PEERS || path.resolve(REPO_ROOT, '..', 'shared', 'peers', 'claw-core');
  const absent = PEER_FILES.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (absent.length > 0) {
    return { dir: null, missing: `claw-core's clients are not in ${dir} (missing ${absent.join(', ')}): put the shared/ folder beside the repository or set TRL_CLAW_CORE_PEERS` };
  }
  for (const [cmd, pkg] of [
    ['python3', 'python3'],
    ['zsh', 'zsh'],
    ['bash', 'bash'],
  ] as const) {
    if (!which(cmd)) return { dir: null, missing: `${cmd}, which claw-core's clients use, is not installed: apt-get install -y ${pkg}` };
  }
  return { dir, missing: null };
}

/** For the first line of a test: skip (or, under TRL_REQUIRE_TIERS=1, fail) without the clients; true when skipped. */
export function skipWithoutPeers(t: TestContext, peers: Peers): boolean {
  if (!peers.missing) return false;
  if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${peers.missing}`);
  console.log(`# skipping: ${peers.missing}`);
  t.skip(peers.missing);
  return true;
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

let python: string | null = null;

/** The interpreter `python3` starts (a version manager's shim, such as pyenv's, costs a second per start). */
export function python3(): string {
  if (python === null) {
    const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
    const exe = r.status === 0 ? r.stdout.trim() : '';
    python = exe.startsWith('/') ? exe : 'python3';
  }
  return python;
}

/**
 * Run one of the clients as its users do (`python3 script …`, `bash smoke.sh`), against the socket in
 * CLAW_CORE_SOCKET. Asynchronous: the daemon's own output pipes keep being read while it runs.
 */
export function runClient(peers: Peers, script: string, args: string[], socketPath: string, opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  const interpreter = script.endsWith('.sh') ? 'bash' : python3();
  const child = spawn(interpreter, [path.join(peers.dir!, script), ...args], {
    cwd: opts.cwd,
    env: { ...process.env, CLAW_CORE_SOCKET: socketPath, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A sticky, world-writable directory like /tmp, root's (or ours): where claw-core's socket lives. */
export function makeStickyDir(prefix = '/tmp/trl-sticky-'): string {
  const dir = fs.mkdtempSync(prefix);
  fs.chmodSync(dir, 0o1777);
  return dir;
}
