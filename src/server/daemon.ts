import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Backend, TierHealth, TierName } from '../backends/backend.js';
import { HostBackend } from '../backends/host.js';
import { isAlive } from '../backends/process-table.js';
import type { Config } from '../config/config-schema.js';
import { defaultSocketPath } from '../protocol/transport.js';
import { Runtime } from '../runtime/runtime.js';
import { Dispatcher } from './dispatch.js';
import { claimSocket, prepareRuntimeDir, readRecord, recordPath, removeQuietly, writeRecord } from './runtime-dir.js';
import { StartupError } from './startup-error.js';
import { UnixTransport } from './unix-transport.js';

export interface Daemon {
  socketPath: string;
  instanceId: string;
  runtime: Runtime;
  /** Resolves once the daemon has shut down. */
  closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

/** A recorded predecessor whose pid is gone (or reused by something that is not node) crashed. */
function predecessorIsDead(pid: number): boolean {
  if (!isAlive(pid)) return true;
  try {
    return !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('node');
  } catch {
    return true;
  }
}

export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0 && !config.allow_root) {
    throw new StartupError('refusing to run as root: every command would run as root; run trl as an ordinary user, or pass --allow-root (TRL_ALLOW_ROOT=1) if you mean it');
  }
  // Handlers go in first: a SIGTERM that arrives while the daemon is still starting is kept and
  // honoured once it can shut down cleanly, instead of killing it half-started.
  let pendingSignal: NodeJS.Signals | null = null;
  let onSignal: (sig: NodeJS.Signals) => void = (sig) => (pendingSignal = sig);
  const signalHandler = (sig: NodeJS.Signals) => onSignal(sig);
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);
  let host: HostBackend | null = null;
  try {
    const socketPath = config.socket_path ?? defaultSocketPath({ XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR });
    prepareRuntimeDir(socketPath);
    await claimSocket(socketPath);

    const instanceId = randomBytes(8).toString('hex');
    host = new HostBackend(instanceId, config.cgroups);
    const health = new Map<TierName, TierHealth>([['host', await host.healthCheck()]]);
    if (!health.get('host')!.available) throw new StartupError(`the host tier failed its health check: ${health.get('host')!.detail}`);
    await reapPredecessor(socketPath, host, log);

    const runtime = new Runtime(config, new Map<TierName, Backend>([['host', host]]), health, instanceId, log);
    const transport = new UnixTransport(new Dispatcher(runtime, log), config.max_request_bytes, log);
    await transport.listen(socketPath);
    writeRecord(socketPath, { instance_id: instanceId, pid: process.pid, started_at: new Date().toISOString(), socket_path: socketPath });
    const enforcement = host.enforcement();
    log.info(
      { socket: socketPath, instance_id: instanceId, tier: 'host', isolated: false, process_tracking: enforcement.process_tracking, limits: enforcement.limits },
      'trl listening',
    );

    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    let stopping: Promise<void> | null = null;
    const backend = host;
    const shutdown = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ reason }, 'shutting down');
        const stopAccepting = transport.close();
        await runtime.shutdown();
        transport.closeConnections();
        await stopAccepting;
        await backend.close();
        removeQuietly(socketPath);
        removeQuietly(recordPath(socketPath));
        process.off('SIGTERM', signalHandler);
        process.off('SIGINT', signalHandler);
        log.info('stopped');
        resolveClosed();
      })();
      return stopping;
    };
    onSignal = (sig) => void shutdown(sig);
    if (pendingSignal) onSignal(pendingSignal);
    return { socketPath, instanceId, runtime, closed, shutdown };
  } catch (err) {
    process.off('SIGTERM', signalHandler);
    process.off('SIGINT', signalHandler);
    await host?.close();
    throw err;
  }
}

/** Kill what a crashed daemon on this socket left behind; a live one never gets here (claimSocket refused). */
async function reapPredecessor(socketPath: string, host: HostBackend, log: Logger): Promise<void> {
  const predecessor = readRecord(socketPath);
  if (!predecessor || !predecessorIsDead(predecessor.pid)) return;
  const killed = await host.reapInstance(predecessor.instance_id);
  log.warn({ instance_id: predecessor.instance_id, pid: predecessor.pid, killed_processes: killed }, 'reaped the processes of a crashed predecessor');
}
