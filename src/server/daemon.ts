import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { INSTALL_DIR } from '../install-dir.js';
import type { Logger } from 'pino';
import type { Tier } from '../tiers/tier.js';
import type { TierName } from '../protocol/common.js';
import { SLOW_MIGRATION_TEXT } from '../tiers/host/cgroup-migrations.js';
import { LocalMachine } from '../tiers/host/local-machine.js';
import { newContainedInstanceId, newInstanceId } from '../tiers/shared/instance-id.js';
import { daemonIsDead } from '../tiers/shared/process-table.js';
import { profileOf } from '../compat/profile.js';
import type { Config } from '../config/config-schema.js';
import { defaultSocketPath } from '../protocol/transport.js';
import type { AuditLog } from '../runtime/audit-log.js';
import { Engine } from '../runtime/engine.js';
import { trimAfterStart } from '../runtime/idle-collect.js';
import { daemonOwnPaths, WorkspacePolicy } from '../runtime/workspace-policy.js';
import { closeAuditLog, openAuditLog } from './audit-setup.js';
import { loadEnvFile } from './env-file.js';
import { Dispatcher } from './dispatch.js';
import { planHttp } from './http-setup.js';
import type { HttpTransport } from './http-transport.js';
import { claimSocket, prepareRuntimeDir, readRecord, removeRuntimeFiles, runtimePaths, writeRecord } from './runtime-dir.js';
import { checkOwnSocket } from './shared-dir.js';
import { hardenProcess } from './harden-process.js';
import { closeInheritedOnExec } from './inherited-fds.js';
import { raiseLoopPriority } from './loop-priority.js';
import { StartupError } from './startup-error.js';
import { checkTiers, closeTiers, createTiers } from './tiers.js';
import { UnixTransport } from './unix-transport.js';
import { StdioTransport } from './stdio-transport.js';

export interface Daemon {
  socketPath: string;
  /** Whether the Unix socket is served (`unix_socket`, default true). */
  unixSocket: boolean;
  /** Base URL of the HTTP(S)/WebSocket transport (`--http`), or null. */
  httpUrl: string | null;
  instanceId: string;
  runtime: Engine;
  /** Resolves once the daemon has shut down. */
  closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

/** Where a `trl rpc` daemon serves its one peer (the stdio transport); it shuts down once that peer has ended. */
export interface StdioEnds {
  input: Readable;
  output: Writable;
}

export async function startDaemon(config: Config, log: Logger, stdio?: StdioEnds): Promise<Daemon> {
  const uid = process.getuid?.() ?? -1;
  if (uid === 0 && !config.allow_root) {
    throw new StartupError('refusing to run as root: every command would run as root; run trl as an ordinary user, or pass --allow-root (TRL_ALLOW_ROOT=1) if you mean it');
  }
  // Before anything holds a secret worth dumping: no core file, not dumpable (harden-process.ts).
  const hardening = hardenProcess();
  if (hardening.problem) log.warn({ problem: hardening.problem }, 'could not fully protect the daemon memory from core dumps');
  // Before any command starts: nothing the daemon inherited reaches one (inherited-fds.ts).
  const inheritedProblem = closeInheritedOnExec();
  if (inheritedProblem) log.warn({ problem: inheritedProblem }, 'descriptors the daemon inherited may reach its commands');
  // The event loop ahead of busy commands, which never inherit its priority (loop-priority.ts).
  const loopPriority = raiseLoopPriority();
  if (loopPriority.problem) log.debug({ problem: loopPriority.problem }, 'the event loop keeps the default priority');
  // Handlers go in first: a SIGTERM that arrives while the daemon is still starting is kept and
  // honoured once it can shut down cleanly, instead of killing it half-started.
  let pendingSignal: NodeJS.Signals | null = null;
  let onSignal: (sig: NodeJS.Signals) => void = (sig) => {
    // A second signal while still starting (a health check that does not answer): stop now.
    if (pendingSignal) {
      log.warn({ signal: sig }, 'second signal while starting: exiting without a clean shutdown');
      log.flush(() => process.exit(1));
      return;
    }
    pendingSignal = sig;
  };
  const signalHandler = (sig: NodeJS.Signals) => onSignal(sig);
  process.on('SIGTERM', signalHandler);
  process.on('SIGINT', signalHandler);
  let machine: LocalMachine | null = null;
  let tiers = new Map<TierName, Tier>();
  let audit: AuditLog | null = null;
  let http: HttpTransport | null = null;
  try {
    // HTTP settings, token and TLS files are checked before anything listens (docs/security.md).
    const httpPlan = await planHttp(config, process.env, stdio !== undefined);
    const socketPath = config.socket_path ?? profileOf(config).socketPath ?? defaultSocketPath({ XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR });
    const { shared } = prepareRuntimeDir(socketPath);
    if (config.unix_socket) await claimSocket(socketPath, shared);
    else refuseLivePredecessor(socketPath, shared);

    const instanceId = config.cgroups === 'container' ? newContainedInstanceId() : newInstanceId();
    machine = new LocalMachine(instanceId, config.cgroups);
    tiers = await createTiers({ machine, socketPath }, config);
    await reapPredecessor(socketPath, shared, machine, tiers, log);
    await reapDeadInstances(machine, tiers, log);
    const workspaces = workspacePolicy(config, socketPath);
    const health = await checkTiers(tiers, config, log);

    // Runtime-level variables: a .env file, under the daemon's own environment (as node --env-file does).
    const envFile = loadEnvFile(config.env_file);
    if (envFile.path) log.info({ env_file: envFile.path, env_keys: Object.keys(envFile.env) }, 'loaded runtime variables');
    audit = openAuditLog(config, process.env, log);
    const runtime = new Engine({ config, tiers, health, instanceId, log, processEnv: { ...envFile.env, ...process.env }, audit, workspaces });
    const dispatcher = new Dispatcher(runtime, log);
    const transport = new UnixTransport(dispatcher, config.max_request_bytes, log);
    // HTTP first: a port in use then stops the start before the socket exists.
    // Loaded only when asked for: a socket-only daemon does not carry the HTTP, WebSocket and TLS code.
    http = httpPlan ? new (await import('./http-transport.js')).HttpTransport(httpPlan, dispatcher, log, runtime, config.max_upload_bytes, audit) : null;
    const httpUrl = http ? await http.listen() : null;
    if (httpPlan?.remote && !httpPlan.tls) log.warn({ http: httpUrl }, 'serving plain HTTP on a non-loopback address: the bearer token crosses the network in clear text; use --tls-cert/--tls-key');
    if (config.unix_socket) await transport.listen(socketPath);
    const stdioTransport = stdio ? new StdioTransport(stdio.input, stdio.output) : null;
    try {
      // In a shared directory (/tmp): the name is still the socket made 0600 above, ours.
      if (config.unix_socket && shared) checkOwnSocket(socketPath, uid);
      writeRecord(socketPath, { instance_id: instanceId, pid: process.pid, started_at: new Date().toISOString(), socket_path: socketPath }, shared);
    } catch (err) {
      await transport.close();
      if (config.unix_socket) removeRuntimeFiles(socketPath, shared, true);
      throw err;
    }
    warnOfSlowMigrations(machine, tiers, health, log);
    const enforcement = tiers.get(config.runtime)!.enforcement();
    log.info(
      {
        socket: config.unix_socket ? socketPath : null,
        http: httpUrl,
        instance_id: instanceId,
        tier: config.runtime,
        isolated: health.get(config.runtime)!.isolated,
        tiers: Object.fromEntries([...health].map(([n, h]) => [n, h.available ? 'available' : 'unavailable'])),
        process_tracking: enforcement.process_tracking,
        limits: enforcement.limits,
        core_dumps: hardening.noCoreDumps ? 'off' : 'possible',
        dumpable: !hardening.notDumpable,
        loop_nice: loopPriority.nice,
      },
      'trl listening',
    );
    // What starting freed goes back to the system once V8 has collected it (idle-collect.ts).
    trimAfterStart();

    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    let stopping: Promise<void> | null = null;
    const ownTiers = tiers;
    const ownMachine = machine;
    const httpTransport = http;
    const shutdown = (reason: string): Promise<void> => {
      stopping ??= (async () => {
        log.info({ reason }, 'shutting down');
        const stopAccepting = Promise.all([transport.close(), httpTransport?.close()]);
        await runtime.shutdown();
        transport.closeConnections();
        httpTransport?.closeConnections();
        stdioTransport?.close();
        await stopAccepting;
        await closeTiers(ownTiers, ownMachine);
        if (audit) closeAuditLog(audit, log);
        removeRuntimeFiles(socketPath, shared, config.unix_socket);
        process.off('SIGTERM', signalHandler);
        process.off('SIGINT', signalHandler);
        log.info('stopped');
        resolveClosed();
      })();
      return stopping;
    };
    onSignal = (sig) => void shutdown(sig);
    if (stdioTransport) {
      stdioTransport.serve(dispatcher, config.max_request_bytes, log);
      void stdioTransport.ended.then(() => shutdown('the stdio peer ended'));
    }
    if (pendingSignal) onSignal(pendingSignal);
    return { socketPath, unixSocket: config.unix_socket, httpUrl, instanceId, runtime, closed, shutdown };
  } catch (err) {
    process.off('SIGTERM', signalHandler);
    process.off('SIGINT', signalHandler);
    if (http) {
      http.closeConnections();
      await http.close();
    }
    await closeTiers(tiers, machine);
    throw err;
  }
}

/**
 * Where isolated sessions may have workspaces: the operator's roots (default:
 * the default working directory), never near the daemon's own files.
 */
function workspacePolicy(config: Config, socketPath: string): WorkspacePolicy {
  const roots = config.workspace_roots ?? [config.default_working_dir ?? process.cwd()];
  const audit = config.audit_log ? [config.audit_log, `${config.audit_log}.head`] : [];
  const policy = new WorkspacePolicy({
    roots,
    daemonPaths: daemonOwnPaths({
      runtimePaths: runtimePaths(socketPath),
      files: [config.env_file ?? resolve('.env'), config.log_file, config.audit_key_file, ...audit],
      installDir: INSTALL_DIR,
    }),
  });
  if (config.workspace_roots) {
    const problems = roots.map((r) => policy.rootProblem(r)).filter((p): p is string => p !== null);
    if (problems.length > 0) throw new StartupError(problems.join('; '));
  }
  return policy;
}

/** HTTP only (no socket to probe): a live daemon's record in the runtime directory means it is already running. */
function refuseLivePredecessor(socketPath: string, shared: boolean): void {
  const other = readRecord(socketPath, shared);
  if (other && other.pid !== process.pid && !daemonIsDead(other.pid)) {
    throw new StartupError(`a trl daemon (pid ${other.pid}) already uses the runtime directory of ${socketPath}; stop it first or choose another --socket-path`);
  }
}

/**
 * Commands of the tiers that run on this machine's processes (their tracking
 * is the machine's cgroups) join a cgroup as they start; without favordynmods
 * the kernel makes each one that follows an idle moment wait 10–20 ms
 * (cgroup-migrations.ts). Said once at start, with the fix.
 */
function warnOfSlowMigrations(machine: LocalMachine, tiers: ReadonlyMap<TierName, Tier>, health: ReadonlyMap<TierName, { available: boolean }>, log: Logger): void {
  const cost = machine.migrations;
  if (!cost || cost.fast) return;
  const tracking = machine.enforcement().process_tracking;
  const joining = [...tiers].filter(([name, t]) => health.get(name)?.available && t.enforcement().process_tracking === tracking).map(([name]) => name);
  if (joining.length > 0) log.warn({ tiers: joining, fix: cost.fix }, `slow command starts: ${SLOW_MIGRATION_TEXT}; fix: ${cost.fix}`);
}

/** Kill what any crashed daemon (on any socket) left behind: its instance id names its dead pid. */
async function reapDeadInstances(machine: LocalMachine, tiers: Map<TierName, Tier>, log: Logger): Promise<void> {
  for (const id of machine.deadInstances()) {
    const killed = await machine.reapInstance(id);
    log.warn({ instance_id: id, killed_processes: killed }, 'reaped what a crashed daemon left behind');
  }
  for (const [tier, t] of tiers) {
    for (const id of await t.deadInstances()) {
      const killed = await t.reapInstance(id);
      log.warn({ instance_id: id, tier, killed_processes: killed }, 'reaped what a crashed daemon left behind');
    }
  }
}

/** Kill what a crashed daemon on this socket left behind; a live one never gets here (claimSocket refused). */
async function reapPredecessor(socketPath: string, shared: boolean, machine: LocalMachine, tiers: Map<TierName, Tier>, log: Logger): Promise<void> {
  const predecessor = readRecord(socketPath, shared);
  if (!predecessor || !daemonIsDead(predecessor.pid)) return;
  let killed = await machine.reapInstance(predecessor.instance_id);
  for (const t of tiers.values()) killed += await t.reapInstance(predecessor.instance_id);
  log.warn({ instance_id: predecessor.instance_id, pid: predecessor.pid, killed_processes: killed }, 'reaped the processes of a crashed predecessor');
}
