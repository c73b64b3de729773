import { z } from 'zod';
import { AbsolutePath, EnvMap, EnvName, Limits, NoNul, Runtime, SessionId, Timestamp, WholeSeconds } from './common.js';

export const SessionState = z.enum(['creating', 'idle', 'running', 'terminated']);

export const SessionCreateParams = z.strictObject({
  shell: AbsolutePath.optional().describe('POSIX shell used for `command` (under `--compat claw-core` any executable, run as `<shell> -c <command>`); default /bin/sh'),
  env: EnvMap.optional().describe('session-level environment variables'),
  working_dir: AbsolutePath.optional().describe("initial cwd; default: the daemon's default_working_dir (`--compat claw-core`: /tmp)"),
  workspace: AbsolutePath.optional().describe("sandbox and docker: the one host directory the session can write, under the daemon's workspace roots; default: working_dir"),
  name: z.string().min(1).max(128).optional().describe('human label, unique among live sessions (under `--compat claw-core` not necessarily)'),
  timeout_s: WholeSeconds.optional().describe('default per-command timeout in seconds; 0 = none'),
  runtime: Runtime.optional().describe('isolation tier; default: the daemon default'),
  limits: Limits.optional(),
  network: z.boolean().optional().describe('whether commands may use the network; default false in sandbox and docker, always true on host'),
  image: NoNul.min(1).optional().describe("container image (docker tier only; default: the daemon's docker_image)"),
  secret_keys: z
    .array(EnvName)
    .optional()
    .describe('env names whose values are secret: redacted from output, logs and the audit log (names that look secret — *TOKEN*, *SECRET*, *KEY*, *PASSWORD* — are included by default)'),
  redact_output: z.boolean().optional().describe('replace secret values in command output with [REDACTED] (default true)'),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;

export const SessionInfo = z.object({
  session_id: z.string(),
  name: z.string().nullable(),
  shell: z.string(),
  runtime: Runtime,
  state: SessionState,
  working_dir: z.string().describe('current cwd, after any cd'),
  workspace: z.string(),
  env_keys: z.array(z.string()).describe('names of the session variables; values are never returned'),
  created_at: Timestamp,
  last_activity: Timestamp,
  command_count: z.number().int(),
  running: z.array(z.string()).describe('ids of running commands'),
  timeout_s: z.number().int(),
  limits: z.record(z.string(), z.number()),
  secret_keys: z.array(z.string()).describe('names marked secret explicitly (values are never returned)'),
  redact_output: z.boolean(),
  isolation: z
    .object({
      isolated: z.boolean().describe('false on host: commands run as the daemon user with its view of the machine'),
      network: z.boolean(),
      detail: z.record(z.string(), z.string()).describe('tier facts: container_id and image, sandbox_pid'),
    })
    .describe('how this session is isolated'),
  usage: z
    .object({ memory_bytes: z.number(), pids: z.number().int(), cpu_s: z.number() })
    .nullable()
    .describe('current memory, processes and CPU time of the session (session.info only; null in session.list)'),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const SessionListParams = z.strictObject({});
export const SessionListResult = z.object({ sessions: z.array(SessionInfo) });

export const SessionInfoParams = z.strictObject({ session_id: SessionId });

export const SessionUpdateParams = z.strictObject({
  session_id: SessionId,
  env: EnvMap.optional().describe('variables to set or replace'),
  unset_env: z.array(EnvName).optional().describe('variables to remove'),
  working_dir: AbsolutePath.optional().describe('new cwd; must exist and be a directory'),
  name: z.string().min(1).max(128).optional(),
  timeout_s: WholeSeconds.optional(),
  secret_keys: z.array(EnvName).optional().describe('more env names to treat as secret'),
  redact_output: z.boolean().optional(),
});

export const SessionDestroyParams = z.strictObject({
  session_id: SessionId,
  force: z.boolean().optional().describe('skip the SIGTERM grace period and SIGKILL at once'),
});
export const SessionDestroyResult = z.object({
  session_id: z.string(),
  state: z.literal('terminated'),
  killed_processes: z.number().int(),
});
