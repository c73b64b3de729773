import { z } from 'zod';
import { MAX_DURATION_S } from '../protocol/common.js';
import { DEFAULT_MAX_REQUEST_BYTES } from '../protocol/transport.js';
import { corsOriginProblem, parseHttpAddress } from './http-settings.js';
import { Runtime, TIER_NAMES, type TierName } from '../protocol/common.js';
import { COMPAT_NAMES } from '../compat/profile.js';

declare module 'zod' {
  interface GlobalMeta {
    /** A default the schema cannot state (computed at start, or "none" with a meaning), as docs and --help show it. */
    default_text?: string;
    /** The section of docs/ that says more, e.g. `security.md#workspaces`. */
    see?: string;
  }
}

const int = (min: number) => z.coerce.number().int().min(min);
const seconds = (min: number) => int(min).max(MAX_DURATION_S);
const bool = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');
const absolutePath = z.string().refine((p) => p.startsWith('/'), 'must be an absolute path');
/** `a, b,,a` → `['a', 'b']`: the items of a comma-separated setting, trimmed, empty and repeated ones dropped. */
const commaList = (v: string): string[] => [
  ...new Set(
    v
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
];

/*
 * Descriptions are the settings' documentation: `trl serve --help` shows them
 * (backticks dropped) and docs/operations.md is generated from them
 * (scripts/gen-settings-doc.ts). Durations end in `_s`, sizes in `_bytes`.
 * Each group below is one table of docs/operations.md.
 */

function daemonSettings() {
  return {
    socket_path: absolutePath
      .min(1)
      .optional()
      .meta({ default_text: '`$XDG_RUNTIME_DIR/trl/trl.sock`, else `/tmp/trl-<uid>/trl.sock` (`--compat claw-core`: `/tmp/trl.sock`)' })
      .describe('Unix socket path; its directory must be `0700` and yours (created so when missing), or sticky and world-writable such as `/tmp` (the daemon then uses only names it creates itself)'),
    allow_root: bool.default(false).describe('allow running as root: every host-tier command then runs as root (dangerous on a real machine)'),
    env_file: z
      .string()
      .min(1)
      .optional()
      .meta({ default_text: "`.env` in the daemon's cwd, if present" })
      .describe('runtime-level variables for every child; must be yours and `0600` (not group- or world-readable)'),
    log_file: z.string().min(1).optional().meta({ default_text: 'stderr' }).describe('write the logs (JSON lines) to this file, created `0600`, instead of stderr'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('how much is logged'),
    compat: z
      .enum(COMPAT_NAMES)
      .optional()
      .meta({ default_text: "none: trl's own behaviour" })
      .describe(
        "behave as another runtime's clients expect: `claw-core` (socket `/tmp/trl.sock`, no state carried between commands, timeouts as `COMMAND_TIMEOUT` errors, `-1` for signal deaths, duplicate names, any executable as shell, sessions in `/tmp`; docs/claw-core.md says more)",
      ),
  };
}

function sessionSettings() {
  return {
    default_working_dir: absolutePath.optional().meta({ default_text: "the daemon's cwd" }).describe('cwd of new sessions'),
    default_shell: absolutePath.default('/bin/sh').describe('shell of new sessions; must be POSIX (sh, dash, bash, zsh, ksh, busybox)'),
    max_sessions: int(1).default(64).describe('live sessions at most; past it `session.create` answers `MAX_SESSIONS_REACHED`'),
    default_timeout_s: seconds(0).default(60).describe('per-command timeout of sessions that set none (0 = none)'),
    kill_grace_s: z.coerce.number().min(0).max(MAX_DURATION_S).default(5).describe('SIGTERM → SIGKILL grace when a process tree is killed'),
    max_output_bytes: int(1024)
      .default(4 * 1024 * 1024)
      .describe('per-stream output cap of a command; past it the middle is dropped (head and tail kept)'),
    max_stdin_bytes: int(0)
      .default(1024 * 1024)
      .describe('largest `stdin` of one request'),
    max_request_bytes: int(1024).default(DEFAULT_MAX_REQUEST_BYTES).describe('largest request line (HTTP: body; WebSocket: message); past it `REQUEST_TOO_LARGE` and the connection is closed'),
    max_idle_s: int(0).default(3600).describe('destroy a session idle this long: no command running, none started or ended, no `session.update` (0 = never)'),
    session_ttl_s: int(0).default(86400).describe('destroy a session this long after its creation, running commands included (0 = never)'),
    session_max_commands: int(1).default(1000).describe('commands per session at most; past it `SESSION_LIMIT_EXCEEDED`'),
    command_retention_s: seconds(0).default(300).describe("how long a finished command's result and output stay readable (`exec.output`, `exec.wait`, `exec.attach`)"),
    max_retained_commands: int(0).default(1000).describe('finished commands kept readable at most; past it the oldest is forgotten first'),
  };
}

/** A maximum a session's `limits` may ask for; unset: none. */
const sessionMaximum = <T extends z.ZodType>(schema: T, field: string, what: string) =>
  schema
    .optional()
    .meta({ default_text: 'no maximum', see: 'security.md#limits' })
    .describe(`largest \`limits.${field}\` (${what}) a session may ask for; above it \`session.create\` is refused naming the maximum`);

function limitSettings() {
  return {
    max_memory_bytes: sessionMaximum(int(1), 'memory_bytes', 'memory of the whole session'),
    max_pids: sessionMaximum(int(1), 'pids', 'processes of the session'),
    max_cpu_percent: sessionMaximum(z.coerce.number().positive(), 'cpu_percent', '100 = one core'),
    max_cpu_s: sessionMaximum(int(1), 'cpu_s', 'CPU seconds per process'),
    max_nofile: sessionMaximum(int(1), 'nofile', 'open files per process'),
    max_running_commands: int(1).default(256).describe('running commands at most, all sessions together; past it `RESOURCE_PRESSURE`'),
    max_session_running: int(1).default(64).describe('running commands at most in one session; past it `RESOURCE_PRESSURE`'),
    max_daemon_rss_bytes: int(1)
      .default(1024 * 1024 * 1024)
      .describe('refuse new sessions (`RESOURCE_PRESSURE`) while the daemon itself uses more memory than this'),
  };
}

function tierSettings() {
  return {
    runtime: z
      .enum(TIER_NAMES)
      .optional()
      .meta({ default_text: '`host` when offered, else the first of `--tiers`' })
      .describe('default tier of new sessions; if its health check fails the daemon does not start'),
    tiers: z
      .string()
      .transform((v, ctx) => {
        const names = commaList(v);
        const bad = names.filter((t) => !Runtime.safeParse(t).success);
        if (bad.length > 0 || names.length === 0) {
          ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of ${TIER_NAMES.join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}` });
          return z.NEVER;
        }
        return names.map((t) => Runtime.parse(t));
      })
      .default(['host', 'sandbox', 'docker'])
      .meta({ see: 'security.md#isolation-tiers' })
      .describe('comma-separated tiers to health-check and offer; one that fails its check answers `RUNTIME_UNAVAILABLE`. Leave `host` out to confine every client to isolated tiers'),
    workspace_roots: z
      .string()
      .transform((v, ctx) => {
        const roots = commaList(v);
        const bad = roots.filter((p) => !p.startsWith('/'));
        if (bad.length > 0 || roots.length === 0) {
          ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of absolute directories${bad.length ? ` (not absolute: ${bad.join(', ')})` : ''}` });
          return z.NEVER;
        }
        return roots;
      })
      .optional()
      .meta({ default_text: 'the default working directory', see: 'security.md#workspaces' })
      .describe('comma-separated directories under which sandbox and docker sessions may have their workspace (the one directory they can write)'),
    isolated_user: z
      .string()
      .regex(/^\d+(:\d+)?$/, 'must be UID or UID:GID (numbers)')
      .refine((v) => !/^0+(:|$)/.test(v) && !/:0+$/.test(v), 'must not be uid or gid 0: a root command could leave setuid-root files in the workspace')
      .optional()
      .meta({ default_text: "the workspace's owner, or `65534:65534` when root owns it" })
      .describe('`UID[:GID]` sandbox and docker commands run as when the daemon runs as root; never 0'),
    sandbox_hide: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      )
      .describe("more comma-separated paths hidden in every sandbox (home secret stores, `/etc/shadow`, `/run`, and trl's env, log, audit, audit head and audit key files are always hidden)"),
    sandbox_warm_pool: int(0)
      .max(16)
      .default(0)
      .meta({ see: 'security.md#the-sandboxs-warm-pool' })
      .describe(
        'sandboxes kept started for sandbox sessions in the default workspace (`--default-working-dir`), filled after the first such session, so their `session.create` does not wait for bubblewrap; 0: none. A warm sandbox is handed out only if it is exactly what a new one would be. Off by default: while it is on, the default workspace keeps its sandbox mount points (empty `.git`, `.bashrc`, … where absent) between sessions',
      ),
    docker_image: z.string().min(1).default('debian:stable-slim').describe('image of docker sessions that name none; it must be in the engine (`docker pull` it): no pull is attempted'),
    docker_user: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'must be USER, UID or UID:GID')
      .refine((v) => !/^(root|0+)(:|$)/.test(v) && !/:(root|0+)$/.test(v), 'must not be root (uid or gid 0): a root command could leave setuid-root files in the workspace')
      .optional()
      .meta({ default_text: 'as `--isolated-user` (a daemon that is not root: its own uid:gid)' })
      .describe('user commands run as inside containers (a name or uid of the image); root is refused'),
    docker_network: z.string().min(1).default('bridge').describe('network of docker sessions created with `network: true` (`none` otherwise)'),
    docker_shell: absolutePath.default('/bin/sh').describe('shell of docker sessions that name none (a path inside the image)'),
    docker_runtime: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'must be the name of a runtime registered in dockerd (letters, digits, `_`, `.`, `-`), such as `runsc`')
      .optional()
      .meta({ default_text: "the engine's default (`runc`)" })
      .describe(
        'OCI runtime of every docker session\'s container, such as `runsc` (gVisor: a kernel of its own between commands and the host\'s; docs/docker-tier.md); it must be registered in dockerd (`"runtimes"` in its daemon.json), else the tier fails its health check naming the fix. Clients cannot choose it',
      ),
    docker_host: z
      .string()
      .regex(/^(unix:\/\/\/.+|tcp:\/\/[^/@\s]+:\d+)$/, 'must be unix:///path/to/docker.sock or tcp://HOST:PORT')
      .optional()
      .meta({ default_text: '`DOCKER_HOST`, else `unix:///var/run/docker.sock`', see: 'docker-tier.md#remote-engines' })
      .describe('Docker engine of the docker tier: `unix:///path/to/docker.sock` or `tcp://HOST:PORT` (TLS as for the docker CLI: `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`)'),
    docker_shared_fs: z
      .enum(['auto', 'yes', 'no'])
      .default('auto')
      .meta({ see: 'docker-tier.md#remote-engines' })
      .describe(
        "whether the engine's machine shares this one's filesystem. `yes`: workspaces and the state FIFOs are bind-mounted. `no` (an engine on another machine): nothing is mounted, each workspace lives in its container, files travel through the protocol, and only images with trl inside (label `dev.trl.inner`) can be used. `auto`: `no` for a `tcp://` engine that is not on loopback, else `yes`",
      ),
    docker_health_timeout_s: seconds(1)
      .default(60)
      .describe(
        "how long the docker tier's health check (at start-up and in `trl doctor`) may take to start a container of the default image and run `true` in it before the tier is reported unavailable; an engine on a busy machine with the vfs storage driver can take tens of seconds",
      ),
    docker_warm_pool: int(0)
      .default(0)
      .describe('containers kept started for default docker sessions (default image, no network, default workspace), so their `session.create` does not wait for a container start'),
    cgroups: z
      .enum(['auto', 'off', 'container'])
      .default('auto')
      .describe(
        "`auto`: per-session cgroups where writable; `off`: force the `/proc`-scan fallback; `container`: the daemon is alone in a container (the docker tier's inner trl): as `off`, the OOM kills of the memory cgroup it runs in count as its sessions', and its instance id names no pid (daemons outside, which see its processes, never take them for a dead instance's)",
      ),
  };
}

/* Checked together at start-up by src/server/http-setup.ts. */
function transportSettings() {
  return {
    unix_socket: bool.default(true).describe('serve the Unix socket; turned off (with `--http`) the daemon serves HTTP only'),
    http: z
      .string()
      .refine((v) => parseHttpAddress(v) !== null, 'must be HOST:PORT, [IPV6]:PORT, :PORT or PORT (e.g. 127.0.0.1:8080); a bare port binds 127.0.0.1')
      .optional()
      .meta({ see: 'operations.md#over-http' })
      .describe('also serve HTTP (`POST /v1/rpc`) and WebSocket (`GET /v1/ws`) on `HOST:PORT` (a bare port binds 127.0.0.1); needs `TRL_AUTH_TOKEN` (32+ characters) in the environment'),
    allow_remote: bool.default(false).describe('allow `--http` to bind a non-loopback address'),
    cors_origin: z
      .string()
      .superRefine((v, ctx) => {
        const problem = corsOriginProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('comma-separated origins (`https://app.example.com`) allowed to call the HTTP API from a browser; `*` is refused'),
    tls_cert: z.string().min(1).optional().describe('PEM certificate file: serve HTTPS/WSS instead of HTTP (with `--tls-key`)'),
    tls_key: z.string().min(1).optional().describe('PEM private key file of `--tls-cert`'),
    max_streams_per_client: int(1).default(16).describe('open streams at most per HTTP client address (clients behind one proxy share it) or per WebSocket'),
    max_http_connections: int(1)
      .default(256)
      .describe(
        'open HTTP connections at most, WebSockets included; past it a new one takes the slot of the oldest idle one (one that never sent a request, else one kept alive between requests), and is closed at once only when all are busy (logged)',
      ),
    // The live web dashboard (docs/dashboard.md); src/dashboard/.
    dashboard: bool
      .default(false)
      .describe('serve the live web dashboard (docs/dashboard.md) at `/dashboard` on the `--http` address (open it with `trl dashboard`); read-only unless `--dashboard-write`'),
    dashboard_write: bool.default(false).describe('let `trl dashboard --write` mint tickets whose viewers may type into, signal and cancel commands'),
    dashboard_max_viewers: int(1).default(8).describe('open dashboard pages (WebSockets) at most; past it a page is refused'),
  };
}

function fileSettings() {
  return {
    max_read_bytes: int(1024)
      .default(10 * 1024 * 1024)
      .describe('largest content one `fs.read` returns (and the largest file `fs.edit` and line-mode `fs.read` take); larger files are read by byte range or with `GET /v1/files`'),
    max_upload_bytes: int(1024)
      .default(1024 * 1024 * 1024)
      .describe('largest body of `PUT /v1/files`; past it `FILE_TOO_LARGE` and nothing is written'),
    fs_timeout_s: z.coerce
      .number()
      .positive()
      .max(MAX_DURATION_S)
      .default(10)
      .describe('time bound of one `fs.list`, `fs.search` or `fs.grep` walk (it answers what it found, with `timed_out`) and of any other file operation (it fails)'),
  };
}

function auditSettings() {
  return {
    audit_log: z
      .string()
      .min(1)
      .optional()
      .meta({ see: 'security.md#audit-log' })
      .describe('append one hash-chained JSON line per state-changing call to this file (mode `0600`), its head to `FILE.head`; check them with `trl audit verify FILE`, `trl audit head FILE`'),
    audit_key_file: z
      .string()
      .min(1)
      .optional()
      .meta({ see: 'security.md#audit-log' })
      .describe('file holding the key (32+ characters) that authenticates the audit log; must be yours and `0600`. Or put the key itself in `TRL_AUDIT_KEY` (environment only, never a flag)'),
  };
}

/** Each group of settings, built: a table of docs/operations.md, and a part of the schema. */
function groupShapes() {
  return {
    daemon: daemonSettings(),
    sessions: sessionSettings(),
    limits: limitSettings(),
    tiers: tierSettings(),
    transport: transportSettings(),
    files: fileSettings(),
    audit: auditSettings(),
  };
}
type GroupShapes = ReturnType<typeof groupShapes>;

/** The groups' titles, in the order docs/operations.md shows them (the schema's order too). */
const GROUP_TITLES: Record<keyof GroupShapes, string> = {
  daemon: 'Daemon',
  sessions: 'Sessions and commands',
  limits: 'Limits',
  tiers: 'Tiers',
  transport: 'HTTP and WebSocket',
  files: 'Files',
  audit: 'Audit log',
};

function schemaOf(g: GroupShapes) {
  return z.strictObject({ ...g.daemon, ...g.sessions, ...g.limits, ...g.tiers, ...g.transport, ...g.files, ...g.audit });
}
export type ConfigSchema = ReturnType<typeof schemaOf>;

/** The schema built last, for as long as a caller still holds it. */
let recent: WeakRef<ConfigSchema> | undefined;

function remember(g: GroupShapes): ConfigSchema {
  const schema = schemaOf(g);
  recent = new WeakRef(schema);
  return schema;
}

/** The groups of settings, in the order docs/operations.md shows them; the schema built for their keys is the first one remembered. */
export const SETTING_GROUPS: ReadonlyArray<{ title: string; keys: ConfigKey[] }> = (() => {
  const g = groupShapes();
  remember(g);
  return (Object.keys(GROUP_TITLES) as Array<keyof GroupShapes>).map((k) => ({ title: GROUP_TITLES[k], keys: Object.keys(g[k]) as ConfigKey[] }));
})();

/**
 * The daemon's whole configuration: one schema, filled from defaults, then
 * `TRL_*` environment variables, then command-line flags (later wins).
 *
 * Not kept in a module constant: a daemon reads its settings once, at start
 * (its flags, then the parse), and the schema's 358 zod objects kept there
 * stayed in its heap for its whole life, about 0.4 MiB of an idle daemon's
 * memory (docs/benchmarks.md). A WeakRef hands the callers of one start-up
 * the same schema (the one built with the module, for SETTING_GROUPS) while
 * any of them holds it; once none does, the collector takes it, and a later
 * call builds another.
 */
export function configSchema(): ConfigSchema {
  return recent?.deref() ?? remember(groupShapes());
}

/** The settings, with the default tier resolved from the offered ones. */
export type Config = Omit<z.output<ConfigSchema>, 'runtime'> & { runtime: TierName };
export type ConfigKey = keyof Config;

/** Every setting, in schema order (the groups' order). */
export const CONFIG_KEYS: readonly ConfigKey[] = SETTING_GROUPS.flatMap((g) => g.keys);

/** `max_sessions` → `TRL_MAX_SESSIONS`. */
export function envNameOf(key: string): string {
  return 'TRL_' + key.toUpperCase();
}

/** The environment variable of each setting. */
export const CONFIG_ENV = Object.fromEntries(CONFIG_KEYS.map((k) => [k, envNameOf(k)])) as Record<ConfigKey, string>;

/** `max_sessions` → `--max-sessions`. */
export function flagOf(key: string): string {
  return '--' + key.replace(/_/g, '-');
}
