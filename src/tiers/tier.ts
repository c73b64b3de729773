import type { Readable, Writable } from 'node:stream';
import type { TierFiles } from './tier-files.js';

/**
 * One isolation tier behind one small interface (the README's architecture): start a session,
 * spawn a process in it, kill its trees, health check, describe. Nothing here
 * knows about JSON or the protocol.
 */

/** A program and its arguments: never empty. */
export type Argv = [string, ...string[]];

export type Program = { kind: 'shell'; shell: string; script: string } | { kind: 'argv'; argv: Argv };

export interface SpawnSpec {
  program: Program;
  /** The complete environment of the child (the backend adds only its tracking tag). */
  env: Record<string, string>;
  cwd: string;
  stdin: 'ignore' | 'pipe';
  /** Open fd 3 as a pipe for the shell's state capture (not with a pty). */
  stateFd: boolean;
  commandTag: string;
  /** Run under a pseudo-terminal of this size: one output stream, stdin is the terminal. */
  pty?: { cols: number; rows: number } | undefined;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  pid: number;
  stdin: Writable | null;
  stdout: Readable;
  stderr: Readable;
  state: Readable | null;
  /** Resolves when the main process has exited. */
  exited: Promise<ExitStatus>;
  /** Resize the pseudo-terminal (pty commands only). */
  resize?: (cols: number, rows: number) => void;
  /** The sandbox's entry forker only: the pid is the command itself, not a launcher that waits for it. */
  direct?: boolean;
}

export interface SessionLimits {
  memory_bytes?: number | undefined;
  cpu_percent?: number | undefined;
  pids?: number | undefined;
  cpu_s?: number | undefined;
  nofile?: number | undefined;
}

/** Which processes a kill addresses: one command's tree, or the whole session. */
export interface KillScope {
  commandTag: string | null;
  /** Process groups of the command leaders in scope (each leader's pid). */
  pgids: number[];
}

/** What a tier needs to start one session. */
export interface SessionOptions {
  sessionTag: string;
  limits: SessionLimits;
  /** Host directory the session may write: bind-mounted read-write at the same path in isolated tiers. */
  workspace: string;
  /** Reach the network (isolated tiers cut it unless true; the host tier always has it). */
  network: boolean;
  /** Container image (docker only; undefined: the configured default). */
  image: string | undefined;
}

export interface TierSession {
  spawn(spec: SpawnSpec): Promise<SpawnedProcess>;
  /** Live processes in scope (ids as the tier knows them). */
  processes(scope: KillScope): Promise<number[]>;
  /** SIGTERM the tree, wait up to graceMs, SIGKILL what is left; resolves when none is left. Returns how many processes were signalled. */
  terminate(scope: KillScope, graceMs: number): Promise<number>;
  /** Deliver one signal to every process in scope; resolves to how many got it. */
  signal(scope: KillScope, signal: NodeJS.Signals): Promise<number>;
  /** Current memory, process count and CPU time of the whole session; null when the tier cannot tell now. */
  usage(): Promise<SessionUsage | null>;
  /** How many processes the kernel's OOM killer has killed in this session so far (0 where unknown). */
  oomKills(): Promise<number>;
  /** Tier-specific facts for session.info (container id, sandbox pid); never a secret. */
  describe(): Record<string, string>;
  /**
   * The session's files, jailed in its workspace where each file is opened
   * (tier-files.ts); set up on first use, released by destroy().
   */
  files(opts: { opTimeoutMs: number }): TierFiles;
  /**
   * What `path` is where the session's commands run — only where that is not
   * this machine's filesystem (a docker engine that shares none). Absent: the
   * daemon's own filesystem answers (the host's paths, or a workspace mounted
   * at the same path).
   */
  directoryKind?(path: string): Promise<'dir' | 'other' | 'missing'>;
  /** Kill everything (SIGTERM, grace, SIGKILL) and release the session's resources; `pgids` are the running commands' leaders. */
  destroy(graceMs: number, pgids: number[]): Promise<number>;
}

export interface SessionUsage {
  memory_bytes: number;
  pids: number;
  cpu_s: number;
}

export interface TierHealth {
  available: boolean;
  isolated: boolean;
  detail: string;
}

export interface Enforcement {
  process_tracking: string;
  limits: string;
  detail: string;
}

/** One thing a tier needs, and what this machine has of it (`trl doctor`). */
export interface Requirement {
  need: string;
  present: boolean;
  /** What was found (a path, a version) or what to do about it. */
  found: string;
  /** Optional: the tier works without it, with less (e.g. limits). */
  optional?: boolean;
}

export interface Tier {
  /** The name it is registered under (its `runtime` on the wire). */
  readonly name: string;
  /** Whether a session's paths (cwd, programs) are the host's own, so they can be checked before spawning. */
  readonly hostPaths: boolean;
  /**
   * Whether the tier is a boundary: its client is not trusted, so its
   * workspace must pass the operator's workspace policy (only the workspace
   * is writable from inside).
   */
  readonly isolated: boolean;
  /** Whether sessions may name a container image (`image`). */
  readonly images: boolean;
  /** Shell for sessions that name none; undefined: the daemon's default_shell. */
  readonly defaultShell: string | undefined;
  /** What this tier needs and what is present (trl doctor); never throws. */
  requirements?(): Promise<Requirement[]>;
  /** Really spawn something; never throws. */
  healthCheck(): Promise<TierHealth>;
  createSession(opts: SessionOptions): Promise<TierSession>;
  enforcement(): Enforcement;
  /**
   * The environment a session starts from, given the daemon's runtime variables.
   * The host passes them all; isolated tiers pass only what a shell needs, so the
   * daemon's own credentials do not cross the boundary unless a caller sends them.
   */
  baseEnv(runtimeEnv: ReadonlyMap<string, string>): Map<string, string>;
  /** Instances other than this one whose daemon is dead and that left something behind. */
  deadInstances(): Promise<string[]>;
  /** Kill what a dead predecessor instance left behind; returns the number of processes killed. */
  reapInstance(instanceId: string): Promise<number>;
  /** Release instance-wide resources at shutdown. */
  close(): Promise<void>;
}
