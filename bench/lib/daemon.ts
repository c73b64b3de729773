import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/node-flags.js';
import { sleep } from './proc.js';

/** The repository root: this file is dist/bench/lib/daemon.js once compiled. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Daemon {
  pid: number;
  socketPath: string;
  /** SIGTERM, wait for a clean exit (SIGKILL after the timeout), remove the temp dir. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>;
}

export interface StartOptions {
  /** Extra `TRL_*` settings, e.g. a higher max_sessions for the RSS-per-session test. */
  env?: Record<string, string>;
  /** Extra `trl serve` flags, e.g. `--tiers host,sandbox,docker` for the isolation-tier rows. */
  args?: readonly string[];
  /** How long to wait for the socket; tier health checks (a container start) come before it. */
  readyTimeoutMs?: number;
}

const STDERR_TAIL = 8 * 1024;

/** Start `trl serve` on a socket in a fresh temp dir and wait until the socket accepts a connection. */
export async function startDaemon(options: StartOptions = {}): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), 'trl-bench-'));
  const socketPath = join(dir, 'trl.sock');
  const main = join(REPO_ROOT, 'dist', 'trl', 'trl.js');
  const child = spawn(process.execPath, [...NODE_FLAGS, main, 'serve', '--socket-path', socketPath, '--allow-root', '--log-level', 'warn', ...(options.args ?? [])], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
    // A warning from the daemon during a benchmark is worth seeing.
    process.stderr.write(chunk);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  try {
    await waitForSocket(child, socketPath, options.readyTimeoutMs ?? 15_000, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const pid = child.pid;
  if (pid === undefined) throw new Error('the daemon process has no pid');
  return {
    pid,
    socketPath,
    async stop() {
      let forced = false;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          forced = true;
          child.kill('SIGKILL');
        }, 10_000);
        const result = await exited;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
        return { ...result, forced };
      }
      const result = await exited;
      await rm(dir, { recursive: true, force: true });
      return { ...result, forced };
    },
  };
}

async function waitForSocket(child: ChildProcess, path: string, timeoutMs: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the daemon exited (code ${child.exitCode}, signal ${child.signalCode}) before listening on ${path}; ` + `did \`npm run build\` succeed?\n${stderr()}`);
    }
    if (await canConnect(path)) return;
    if (Date.now() > deadline) {
      throw new Error(`the daemon did not listen on ${path} within ${timeoutMs} ms\n${stderr()}`);
    }
    await sleep(25);
  }
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
