/**
 * A second Docker engine, started by the test itself, standing in for an
 * engine on another machine (docs/docker-tier.md#remote-engines): its own
 * dockerd with its own data root, exec root (hence its own managed
 * containerd), pidfile, configuration file (not the machine's daemon.json)
 * and a TCP listener on 127.0.0.1, beside the machine's running dockerd. The
 * daemon under test reaches it only as `--docker-host tcp://127.0.0.1:PORT`
 * with `--docker-shared-fs no`; the images it needs are copied in with
 * `docker save | docker load` (no registry).
 *
 * Cleanup is complete, on failure too: every container, the dockerd and its
 * containerd, the mounts under its directory, the directory — in close(),
 * and on process exit for whatever a failed test did not close. A test
 * process killed outright (SIGKILL) runs neither: the next start of an engine
 * ends the engines whose test process is gone (`owner.pid` in their directory). Where dockerd
 * is missing or the tests do not run as root, the engine is not started: the
 * reason is printed and the tests skip (a failure under TRL_REQUIRE_TIERS=1).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTierDaemon, TRL_IMAGE, type TierDaemon, type TierOptions } from './tiers.js';
import { waitFor } from './wait.js';

const ENGINE_PREFIX = 'trl-engine-';
/** A dockerd start (its containerd included) on a loaded 2-core machine: not a figure of speed. */
const READY_DEADLINE_MS = 90_000;
const STOP_DEADLINE_MS = 30_000;

export interface SecondEngine {
  /** `tcp://127.0.0.1:PORT`: what the daemon under test is given. */
  host: string;
  /** The docker CLI against this engine (`docker -H host …`); throws on failure. */
  cli(...args: string[]): string;
  /** Copy an image of the machine's engine into this one (`docker save | docker load`), unless it is there. */
  load(image: string): void;
  /** The engine's log so far (for failure messages). */
  log(): string;
  /** Remove its containers, stop it, unmount and remove its directory. Idempotent. */
  close(): void;
}

const live = new Set<SecondEngine>();
process.on('exit', () => {
  for (const e of live) e.close();
});

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why no second engine can run here, or null. */
function missing(): string | null {
  if (!onPath('dockerd')) return 'dockerd is not installed (apt-get install -y docker.io)';
  if (!onPath('docker')) return 'the docker CLI is not installed (apt-get install -y docker.io)';
  if (process.getuid?.() !== 0) return 'a second dockerd needs root';
  return null;
}

/**
 * The machine's engine's storage driver where the second engine can use it too (overlay2 starts a container
 * without copying its image; .ci/run prefers it), else vfs, which works anywhere.
 */
function storageDriver(): string {
  const driver = spawnSync('docker', ['info', '--format', '{{.Driver}}'], { encoding: 'utf8', timeout: 60_000 }).stdout?.trim();
  return driver === 'overlay2' ? 'overlay2' : 'vfs';
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function docker(host: string, args: string[], timeout = 60_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync('docker', ['-H', host, ...args], { encoding: 'utf8', timeout });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/**
 * Start the engine and copy `images` (present in the machine's engine) into
 * it. Resolves to the engine, or to the reason it cannot run here (printed;
 * thrown under TRL_REQUIRE_TIERS=1).
 */
export async function startSecondEngine(images: string[]): Promise<SecondEngine | { skipReason: string }> {
  const why = missing();
  if (why) {
    const full = `no second docker engine: ${why}`;
    if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${full}`);
    console.log(`# skipping: ${full}`);
    return { skipReason: full };
  }
  reapOrphanEngines();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), ENGINE_PREFIX));
  fs.writeFileSync(path.join(root, 'owner.pid'), `${process.pid}\n`);
  const port = await freePort();
  const host = `tcp://127.0.0.1:${port}`;
  const logFile = path.join(root, 'dockerd.log');
  const configFile = path.join(root, 'daemon.json');
  fs.writeFileSync(configFile, '{}\n');
  const logFd = fs.openSync(logFile, 'a');
  // prettier-ignore
  const args = [
    '--config-file', configFile, '--iptables=false', '--ip-masq=false', '--bridge=none', `--storage-driver=${storageDriver()}`,
    '--data-root', path.join(root, 'data'), '--exec-root', path.join(root, 'exec'), '--pidfile', path.join(root, 'dockerd.pid'),
    '-H', host, '-H', `unix://${path.join(root, 'docker.sock')}`,
  ];
  const proc: ChildProcess = spawn('dockerd', args, { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  proc.on('error', () => undefined);
  let exited = false;
  proc.once('exit', () => (exited = true));
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let closed = false;
  const engine: SecondEngine = {
    host,
    log,
    cli: (...a) => {
      const r = docker(host, a);
      if (!r.ok) throw new Error(`docker -H ${host} ${a.join(' ')}: ${r.err.trim()}`);
      return r.out;
    },
    load: (image) => {
      if (docker(host, ['image', 'inspect', image]).ok) return;
      const r = spawnSync('sh', ['-c', 'docker save "$1" | docker -H "$2" load', 'sh', image, host], { encoding: 'utf8', timeout: 300_000 });
      if (!docker(host, ['image', 'inspect', image]).ok) throw new Error(`could not copy ${image} into the second engine: ${(r.stderr || r.stdout || '').trim().slice(-500)}`);
    },
    close: () => {
      if (closed) return;
      closed = true;
      live.delete(engine);
      stopEngine(host, proc, () => exited, root);
    },
  };
  live.add(engine);
  try {
    const ready = await waitFor(() => exited || docker(host, ['version', '--format', '{{.Server.Version}}'], 10_000).ok, READY_DEADLINE_MS, 200);
    if (exited) throw new Error(`the second dockerd exited at start:\n${log().slice(-2000)}`);
    if (!ready) throw new Error(`the second dockerd did not answer on ${host} within ${READY_DEADLINE_MS / 1000} s:\n${log().slice(-2000)}`);
    for (const image of images) engine.load(image);
  } catch (err) {
    engine.close();
    throw err;
  }
  return engine;
}

/** Everything the engine holds and is, gone: containers, dockerd, its containerd, mounts, directory. */
function stopEngine(host: string, proc: ChildProcess, exited: () => boolean, root: string): void {
  if (!exited()) removeAllContainers(host);
  const containerd = containerdOf(root);
  proc.kill('SIGTERM');
  if (!waitGone(proc.pid, STOP_DEADLINE_MS)) proc.kill('SIGKILL');
  finishEngine(root, containerd);
}

function removeAllContainers(host: string): void {
  const ids = docker(host, ['ps', '-aq'], 30_000).out.split('\n').filter(Boolean);
  if (ids.length > 0) docker(host, ['rm', '-f', '-v', ...ids], 60_000);
}

/** Engines whose test process died without closing them (SIGKILL): their containers, processes, mounts and directory. */
function reapOrphanEngines(): void {
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(ENGINE_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const root = path.join(os.tmpdir(), name);
    const owner = readPid(path.join(root, 'owner.pid'));
    if (owner === null || alive(owner)) continue; // being set up, or in use
    removeAllContainers(`unix://${path.join(root, 'docker.sock')}`);
    const dockerd = readPid(path.join(root, 'dockerd.pid'));
    const containerd = containerdOf(root);
    if (dockerd !== null && alive(dockerd)) {
      process.kill(dockerd, 'SIGTERM');
      if (!waitGone(dockerd, STOP_DEADLINE_MS)) process.kill(dockerd, 'SIGKILL');
    }
    finishEngine(root, containerd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The managed containerd's pid (read before dockerd stops: it removes the file). */
function containerdOf(root: string): number | null {
  return readPid(path.join(root, 'exec', 'containerd', 'containerd.pid'));
}

/** After dockerd: its containerd (if it outlived it), the mounts under the directory, the directory. */
function finishEngine(root: string, containerdPid: number | null): void {
  // dockerd stops its managed containerd on SIGTERM; after a SIGKILL, or if it hangs, it is ours to end.
  if (containerdPid !== null && !waitGone(containerdPid, 10_000)) {
    try {
      process.kill(containerdPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // The default network namespace (exec/netns/default) and any mount a crash left: deepest first.
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === root || m.startsWith(root + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  fs.rmSync(root, { recursive: true, force: true });
}

function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Wait (blocking: close() also runs on process exit) until `pid` is gone or the deadline passes; true when gone. */
function waitGone(pid: number | undefined, deadlineMs: number): boolean {
  if (pid === undefined) return true;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    // A zombie child (the exit handler cannot reap it) counts as gone.
    if (fs.existsSync(`/proc/${pid}/stat`) && /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    if (Date.now() > deadline) return false;
    spawnSync('sleep', ['0.1']);
  }
}

/**
 * The docker tier's daemon on a second engine over TCP with no shared
 * filesystem (`--docker-host`, `--docker-shared-fs no`, trl-test:trl as the
 * default image): a TierDaemon whose close() also ends the engine. When no
 * engine can run here, a handle that skips with the reason.
 */
export async function startRemoteTierDaemon(opts: TierOptions = {}): Promise<TierDaemon & { engine: SecondEngine | null }> {
  const image = opts.dockerImage ?? TRL_IMAGE;
  const started = await startSecondEngine([image]);
  if ('skipReason' in started) {
    const full = started.skipReason;
    return {
      tier: 'docker',
      daemon: null,
      client: null,
      skipReason: full,
      info: null,
      enforcement: null,
      engine: null,
      skip: (t) => {
        t.skip(full);
        return true;
      },
      close: async () => undefined,
    };
  }
  const engine = started;
  let h: TierDaemon;
  try {
    h = await startTierDaemon('docker', { ...opts, dockerImage: image, flags: [...remoteFlags(engine), ...(opts.flags ?? [])] });
  } catch (err) {
    // The engine's own account of what it was doing (a health check that ran out of time says only that).
    const log = engine.log().slice(-3000);
    engine.close();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n(the second engine's log ends)\n${log}`, { cause: err });
  }
  if (h.skipReason !== null) {
    // The engine runs and has the image: a tier that does not work on it is a failure, not a skip.
    await h.close();
    const log = engine.log().slice(-1500);
    engine.close();
    throw new Error(`the docker tier does not work on the second engine at ${engine.host}: ${h.skipReason}\n(the engine's log ends)\n${log}`);
  }
  return {
    ...h,
    engine,
    close: async () => {
      try {
        await h.close();
      } finally {
        engine.close();
      }
    },
  };
}

/** The daemon flags that point the docker tier at `engine` as at another machine's. */
export function remoteFlags(engine: SecondEngine): string[] {
  return ['--docker-host', engine.host, '--docker-shared-fs', 'no'];
}
