import { z } from 'zod';
import { DEFAULT_MAX_REQUEST_BYTES } from '../protocol/transport.js';

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
  default_timeout_s: int(0).default(60).describe('default per-command timeout in seconds (0 = none)'),
  kill_grace_s: z.coerce.number().min(0).default(5).describe('seconds between SIGTERM and SIGKILL when a tree is killed'),
  max_output_bytes: int(1024).default(4 * 1024 * 1024).describe('per-stream output cap of a command'),
  max_stdin_bytes: int(0).default(1024 * 1024).describe('largest stdin payload of one request'),
  max_request_bytes: int(1024).default(DEFAULT_MAX_REQUEST_BYTES).describe('largest request line'),
  max_idle_sec: int(0).default(3600).describe('destroy a session idle this long (0 = never)'),
  session_ttl_sec: int(0).default(86400).describe('destroy a session this long after creation (0 = never)'),
  session_max_commands: int(1).default(1000).describe('commands per session at most'),
  command_retention_s: int(0).default(300).describe("how long a finished command's result and output stay readable"),
  cgroups: z.enum(['auto', 'off']).default('auto').describe('auto: per-session cgroups where writable; off: force the /proc-scan fallback'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('log level (logs go to stderr)'),
});

export type Config = z.output<typeof ConfigSchema>;
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
  cgroups: 'TRL_CGROUPS',
  log_level: 'TRL_LOG_LEVEL',
};

/** `max_sessions` → `--max-sessions`. */
export function flagOf(key: ConfigKey): string {
  return '--' + key.replace(/_/g, '-');
}
