import { z } from 'zod';
import { MAX_DURATION_S } from '../protocol/common.js';
import { DEFAULT_MAX_REQUEST_BYTES } from '../protocol/transport.js';
import { corsOriginProblem, parseHttpAddress } from './http-settings.js';
import { TIER_NAMES, type TierName } from '../protocol/common.js';


const int = (min: number) => z.coerce.number().int().min(min);
const bool = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');

/**
 * The daemon's whole configuration: one schema, filled from defaults, then
 * `TRL_*` environment variables, then command-line flags (later wins).
 */
export const ConfigSchema = z.strictObject({
  socket_path: z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path').optional()
    .describe('Unix socket path (default $XDG_RUNTIME_DIR/trl/trl.sock, else /tmp/trl-<uid>/trl.sock)'),
  allow_root: bool.default(false).describe('allow running as root (dangerous on a real machine)'),
  default_working_dir: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').optional()
    .describe("cwd of new sessions (default: the daemon's cwd)"),
  default_shell: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').default('/bin/sh')
    .describe('shell of new sessions'),
  max_sessions: int(1).default(64).describe('live sessions at most'),
  default_timeout_s: int(0).max(MAX_DURATION_S).default(60).describe('default per-command timeout in seconds (0 = none)'),
  kill_grace_s: z.coerce.number().min(0).max(MAX_DURATION_S).default(5).describe('seconds between SIGTERM and SIGKILL when a tree is killed'),
  max_output_bytes: int(1024).default(4 * 1024 * 1024).describe('per-stream output cap of a command'),
  max_stdin_bytes: int(0).default(1024 * 1024).describe('largest stdin payload of one request'),
  max_request_bytes: int(1024).default(DEFAULT_MAX_REQUEST_BYTES).describe('largest request line'),
  max_idle_sec: int(0).default(3600).describe('destroy a session idle this long (0 = never)'),
  session_ttl_sec: int(0).default(86400).describe('destroy a session this long after creation (0 = never)'),
  session_max_commands: int(1).default(1000).describe('commands per session at most'),
  command_retention_s: int(0).max(MAX_DURATION_S).default(300).describe("how long a finished command's result and output stay readable"),
  max_retained_commands: int(0).default(1000).describe('finished commands kept readable at most; past it the oldest is forgotten first'),
  // ---- isolation tiers (DESIGN §7)
  runtime: z.enum(TIER_NAMES).optional()
    .describe('default tier of new sessions (default: host when offered, else the first of --tiers); the daemon refuses to start if its health check fails'),
  tiers: z.string().transform((v, ctx) => {
    const names = [...new Set(v.split(',').map((t) => t.trim()).filter(Boolean))];
    const bad = names.filter((t) => !TIER_NAMES.includes(t as TierName));
    if (bad.length > 0 || names.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of ${TIER_NAMES.join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}` });
      return z.NEVER;
    }
    return names as TierName[];
  }).default(['host', 'sandbox', 'docker'])
    .describe('tiers offered to clients (host,sandbox,docker); leave host out to confine every client to isolated tiers; one that fails its check answers RUNTIME_UNAVAILABLE'),
  workspace_roots: z.string().transform((v, ctx) => {
    const roots = [...new Set(v.split(',').map((p) => p.trim()).filter(Boolean))];
    const bad = roots.filter((p) => !p.startsWith('/'));
    if (bad.length > 0 || roots.length === 0) {
      ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of absolute directories${bad.length ? ` (not absolute: ${bad.join(', ')})` : ''}` });
      return z.NEVER;
    }
    return roots;
  }).optional()
    .describe('comma-separated directories under which sandbox and docker sessions may have their workspace (default: the default working directory)'),
  isolated_user: z.string().regex(/^\d+(:\d+)?$/, 'must be UID or UID:GID (numbers)')
    .refine((v) => !/^0+(:|$)/.test(v) && !/:0+$/.test(v), 'must not be uid or gid 0: a root command could leave setuid-root files in the workspace')
    .optional()
    .describe("uid[:gid] sandbox and docker commands run as when the daemon runs as root (default: the workspace's owner, or 65534:65534 when root owns it); never 0"),
  sandbox_hide: z.string().default('').transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .describe('extra comma-separated paths hidden inside sandboxes (home secret stores are always hidden)'),
  docker_image: z.string().min(1).default('debian:stable-slim').describe('image of docker sessions that name none (must be present in the engine: docker pull it)'),
  docker_user: z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'must be USER, UID or UID:GID')
    .refine((v) => !/^(root|0+)(:|$)/.test(v) && !/:(root|0+)$/.test(v), 'must not be root (uid or gid 0): a root command could leave setuid-root files in the workspace')
    .optional()
    .describe("user commands run as inside containers, a name or uid of the image (default: as for --isolated-user); root is refused"),
  docker_network: z.string().min(1).default('bridge').describe('network of docker sessions created with network: true (none otherwise)'),
  docker_shell: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path').default('/bin/sh').describe('shell of docker sessions that name none (a path inside the image)'),
  docker_warm_pool: int(0).default(0).describe('containers kept started for default docker sessions (default image, no network, default workspace)'),
  cgroups: z.enum(['auto', 'off']).default('auto').describe('auto: per-session cgroups where writable; off: force the /proc-scan fallback'),
  max_memory_bytes: int(1).optional().describe('largest limits.memory_bytes a session may ask for (unset: no maximum)'),
  max_pids: int(1).optional().describe('largest limits.pids a session may ask for'),
  max_cpu_percent: z.coerce.number().positive().optional().describe('largest limits.cpu_percent (100 = one core)'),
  max_cpu_s: int(1).optional().describe('largest limits.cpu_s (CPU seconds per process)'),
  max_nofile: int(1).optional().describe('largest limits.nofile (open files per process)'),
  max_running_commands: int(1).default(256).describe('running commands at most, all sessions together (RESOURCE_PRESSURE beyond)'),
  max_session_running: int(1).default(64).describe('running commands at most in one session'),
  max_daemon_rss_bytes: int(1).default(1024 * 1024 * 1024).describe('refuse new sessions while the daemon itself uses more memory than this'),
  env_file: z.string().min(1).optional().describe("runtime-level variables for every child (default: .env in the daemon's cwd if present); must be yours and not group/world-readable"),
  audit_log: z.string().min(1).optional().describe('append one hash-chained JSON line per state-changing call to this file (mode 0600)'),
  audit_key_file: z.string().min(1).optional().describe('file holding the key (32+ characters) that authenticates the audit log; must be yours and mode 0600 (or set TRL_AUDIT_KEY)'),
  log_file: z.string().min(1).optional().describe('write logs to this file (mode 0600) instead of stderr'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('log level (logs go to stderr)'),
  // ---- HTTP / WebSocket transport (PROTOCOL §1, DESIGN §5); checked together at start-up by src/server/http-setup.ts
  unix_socket: bool.default(true).describe('the Unix socket is served unless this is off (--no-unix-socket, TRL_UNIX_SOCKET=0): with --http, HTTP only'),
  http: z.string().refine((v) => parseHttpAddress(v) !== null, 'must be HOST:PORT, [IPV6]:PORT, :PORT or PORT (e.g. 127.0.0.1:8080); a bare port binds 127.0.0.1').optional()
    .describe('also serve HTTP (POST /v1/rpc) and WebSocket (GET /v1/ws) on HOST:PORT; needs TRL_AUTH_TOKEN (32+ characters) in the environment'),
  allow_remote: bool.default(false).describe('allow --http to bind a non-loopback address'),
  cors_origin: z.string().superRefine((v, ctx) => {
    const problem = corsOriginProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }).optional().describe('comma-separated origins (https://app.example.com) allowed to call the HTTP API from a browser; never *'),
  tls_cert: z.string().min(1).optional().describe('PEM certificate file: serve HTTPS/WSS instead of HTTP (with --tls-key)'),
  tls_key: z.string().min(1).optional().describe('PEM private key file of --tls-cert'),
  max_streams_per_client: int(1).default(16).describe('open streams at most per HTTP client address or per WebSocket'),
  max_http_connections: int(1).default(256).describe('open HTTP connections at most, WebSockets included; past it new ones are closed at once'),
});

/** The settings, with the default tier resolved from the offered ones. */
export type Config = Omit<z.output<typeof ConfigSchema>, 'runtime'> & { runtime: TierName };
export type ConfigKey = keyof Config;

/** The environment variable of each setting. */
export const CONFIG_ENV: Record<ConfigKey, string> = {
  socket_path: 'TRL_SOCKET_PATH',
  allow_root: 'TRL_ALLOW_ROOT',
  default_working_dir: 'TRL_DEFAULT_WORKING_DIR',
  default_shell: 'TRL_DEFAULT_SHELL',
  max_sessions: 'TRL_MAX_SESSIONS',
  default_timeout_s: 'TRL_DEFAULT_TIMEOUT_S',
  kill_grace_s: 'TRL_KILL_GRACE_S',
  max_output_bytes: 'TRL_MAX_OUTPUT_BYTES',
  max_stdin_bytes: 'TRL_MAX_STDIN_BYTES',
  max_request_bytes: 'TRL_MAX_REQUEST_BYTES',
  max_idle_sec: 'TRL_MAX_IDLE_SEC',
  session_ttl_sec: 'TRL_SESSION_TTL_SEC',
  session_max_commands: 'TRL_SESSION_MAX_COMMANDS',
  command_retention_s: 'TRL_COMMAND_RETENTION_S',
  max_retained_commands: 'TRL_MAX_RETAINED_COMMANDS',
  runtime: 'TRL_RUNTIME',
  tiers: 'TRL_TIERS',
  workspace_roots: 'TRL_WORKSPACE_ROOTS',
  isolated_user: 'TRL_ISOLATED_USER',
  sandbox_hide: 'TRL_SANDBOX_HIDE',
  docker_image: 'TRL_DOCKER_IMAGE',
  docker_user: 'TRL_DOCKER_USER',
  docker_network: 'TRL_DOCKER_NETWORK',
  docker_shell: 'TRL_DOCKER_SHELL',
  docker_warm_pool: 'TRL_DOCKER_WARM_POOL',
  cgroups: 'TRL_CGROUPS',
  max_memory_bytes: 'TRL_MAX_MEMORY_BYTES',
  max_pids: 'TRL_MAX_PIDS',
  max_cpu_percent: 'TRL_MAX_CPU_PERCENT',
  max_cpu_s: 'TRL_MAX_CPU_S',
  max_nofile: 'TRL_MAX_NOFILE',
  max_running_commands: 'TRL_MAX_RUNNING_COMMANDS',
  max_session_running: 'TRL_MAX_SESSION_RUNNING',
  max_daemon_rss_bytes: 'TRL_MAX_DAEMON_RSS_BYTES',
  env_file: 'TRL_ENV_FILE',
  audit_log: 'TRL_AUDIT_LOG',
  audit_key_file: 'TRL_AUDIT_KEY_FILE',
  log_file: 'TRL_LOG_FILE',
  log_level: 'TRL_LOG_LEVEL',
  unix_socket: 'TRL_UNIX_SOCKET',
  http: 'TRL_HTTP',
  allow_remote: 'TRL_ALLOW_REMOTE',
  cors_origin: 'TRL_CORS_ORIGIN',
  tls_cert: 'TRL_TLS_CERT',
  tls_key: 'TRL_TLS_KEY',
  max_streams_per_client: 'TRL_MAX_STREAMS_PER_CLIENT',
  max_http_connections: 'TRL_MAX_HTTP_CONNECTIONS',
};

/** `max_sessions` → `--max-sessions`. */
export function flagOf(key: ConfigKey): string {
  return '--' + key.replace(/_/g, '-');
}
