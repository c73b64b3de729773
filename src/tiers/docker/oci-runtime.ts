/**
 * The OCI runtime of docker sessions (--docker-runtime): which runtimes the
 * engine offers (`docker info` Runtimes), whether the chosen one is among
 * them, and what gVisor (runsc) needs for trl's exec path. Design:
 * docs/docker-tier.md#gvisor-runsc. Pure functions of the engine's info,
 * unit-tested without an engine.
 */

/** One entry of the engine's `Runtimes`: a binary (path, runtimeArgs) or a containerd shim (runtimeType). */
export interface RuntimeEntry {
  path?: string;
  runtimeArgs?: string[];
  runtimeType?: string;
}

/** What the engine says of its runtimes. */
export interface EngineRuntimes {
  /** Registered runtimes by name. */
  offered: Map<string, RuntimeEntry>;
  /** The engine's default (`runc` unless its configuration says otherwise). */
  defaultRuntime: string;
}

/**
 * The runsc flags trl needs, and why. (Not --oci-seccomp: runsc applies the
 * container's seccomp profile to its main process only, never to an exec,
 * which every command is; gVisor's own kernel is their syscall boundary.)
 */
export const GVISOR_NEEDED: ReadonlyArray<{ arg: string; why: string }> = [
  { arg: '--host-fifo=open', why: "each command's state comes back through a FIFO in a bind mount, which gVisor refuses to open without it" },
];
export const GVISOR_NEEDED_ARGS = GVISOR_NEEDED.map((n) => n.arg);
/** A registration that works for trl: no network inside the sandbox, no cgroups (where gVisor cannot manage them), and the flags above. */
export const GVISOR_ARGS = ['--network=none', '--ignore-cgroups', ...GVISOR_NEEDED_ARGS];

/** Read `docker info`'s Runtimes and DefaultRuntime without trusting their shape. */
export function engineRuntimes(info: unknown): EngineRuntimes {
  const offered = new Map<string, RuntimeEntry>();
  const rec = typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {};
  const runtimes = rec.Runtimes;
  if (typeof runtimes === 'object' && runtimes !== null) {
    for (const [name, value] of Object.entries(runtimes)) {
      const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
      const entry: RuntimeEntry = {};
      if (typeof v.path === 'string') entry.path = v.path;
      if (Array.isArray(v.runtimeArgs)) entry.runtimeArgs = v.runtimeArgs.filter((a): a is string => typeof a === 'string');
      if (typeof v.runtimeType === 'string') entry.runtimeType = v.runtimeType;
      offered.set(name, entry);
    }
  }
  return { offered, defaultRuntime: typeof rec.DefaultRuntime === 'string' && rec.DefaultRuntime ? rec.DefaultRuntime : 'runc' };
}

/** Whether a runtime entry is gVisor: its binary is runsc, or its containerd shim is runsc's. */
export function isGvisor(entry: RuntimeEntry): boolean {
  return /(^|\/)runsc$/.test(entry.path ?? '') || /runsc/.test(entry.runtimeType ?? '');
}

/**
 * Whether the runtime leaves a container's cgroup alone (gVisor's
 * --ignore-cgroups, for machines where it cannot manage cgroups): the
 * engine's memory, CPU and pids limits then bind nothing.
 */
export function ignoresCgroups(entry: RuntimeEntry | undefined): boolean {
  return entry !== undefined && isGvisor(entry) && (entry.runtimeArgs ?? []).some((a) => /^--?ignore-cgroups(=(true|1))?$/.test(a));
}

/** Whether the runtime is gVisor with no network in its sandbox (--network=none): `network: true` then gives loopback only. */
export function cutsNetwork(entry: RuntimeEntry | undefined): boolean {
  return entry !== undefined && isGvisor(entry) && (entry.runtimeArgs ?? []).some((a) => /^--?network=none$/.test(a));
}

/** The name sessions run under: the configured one, else the engine's default. */
export function effectiveRuntime(configured: string | undefined, engine: EngineRuntimes): string {
  return configured ?? engine.defaultRuntime;
}

/** `runsc (gVisor: /usr/bin/runsc --network=none …)`: a runtime as messages and doctor show it. */
export function describeRuntime(name: string, engine: EngineRuntimes): string {
  const e = engine.offered.get(name);
  if (!e) return name;
  const how = e.path ? [e.path, ...(e.runtimeArgs ?? [])].join(' ') : (e.runtimeType ?? '');
  return `${name} (${isGvisor(e) ? 'gVisor' : 'OCI runtime'}${how ? `: ${how}` : ''})`;
}

/** The dockerd configuration that registers `name` (runsc: the flags trl needs). */
export function registrationHint(name: string): string {
  const entry = name === 'runsc' ? { path: '/usr/bin/runsc', runtimeArgs: GVISOR_ARGS } : { path: `/path/to/${name}` };
  return (
    `register it in dockerd's JSON configuration (/etc/docker/daemon.json, or the file of dockerd --config-file): "runtimes": ${JSON.stringify({ [name]: entry })}` +
    `${name === 'runsc' ? ' (apt-get install runsc)' : ''}, then restart dockerd or send it SIGHUP (runtimes are reloaded live); or leave --docker-runtime unset for the engine's default`
  );
}

/**
 * Why sessions cannot run under the configured runtime in this engine, or
 * null: it is not registered, or it is gVisor without the flags the exec
 * path needs. `endpoint` names the engine in the message.
 */
export function runtimeProblem(configured: string | undefined, engine: EngineRuntimes, endpoint: string): string | null {
  if (configured === undefined) return null;
  const entry = engine.offered.get(configured);
  if (!entry) {
    const names = [...engine.offered.keys()].sort().join(', ') || 'none listed';
    return `the docker engine at ${endpoint} offers no runtime '${configured}' (--docker-runtime; it offers ${names}): ${registrationHint(configured)}`;
  }
  // A shim's options are not in `docker info`: its flags cannot be checked here (the health check's real command still is).
  if (isGvisor(entry) && entry.path !== undefined) {
    const args = entry.runtimeArgs ?? [];
    const missing = GVISOR_NEEDED.filter((n) => !args.includes(n.arg) && !args.includes(n.arg.replace(/^--/, '-')));
    if (missing.length > 0) {
      return (
        `the runtime '${configured}' of the docker engine at ${endpoint} is gVisor without ${missing.map((n) => `${n.arg} (${n.why})`).join(' and ')}: ` +
        `add ${missing.map((n) => JSON.stringify(n.arg)).join(', ')} to its "runtimeArgs" in dockerd's JSON configuration, then restart dockerd or send it SIGHUP`
      );
    }
  }
  return null;
}

/** An engine's refusal of an unknown runtime (`Unknown runtime specified X`), as the fix; else null. */
export function unknownRuntimeFix(engineMessage: string, configured: string | undefined, endpoint: string): string | null {
  if (configured === undefined || !/unknown runtime|invalid runtime name/i.test(engineMessage)) return null;
  return `the docker engine at ${endpoint} no longer offers the runtime '${configured}' of --docker-runtime (${engineMessage}): ${registrationHint(configured)}`;
}
