import { z } from 'zod';

export const PingParams = z.strictObject({});
export const PingResult = z.object({ uptime_s: z.number().int().describe('whole seconds since the daemon started'), version: z.string() });

export const StatsParams = z.strictObject({});
export const StatsResult = z.object({
  active_sessions: z.number().int(),
  running_commands: z.number().int(),
  total_commands_run: z.number().int(),
  uptime_s: z.number().int().describe('whole seconds since the daemon started'),
  memory_rss_bytes: z.number().int(),
  open_fds: z.number().int(),
  zombie_children: z.number().int().describe('exited children of the daemon not yet reaped (should stay 0)'),
  tiers: z.record(z.string(), z.object({ sessions: z.number().int(), running_commands: z.number().int() })),
});

export const InfoParams = z.strictObject({});
const Enforcement = z.object({
  process_tracking: z.string().describe('how session processes are found: cgroup-v2, cgroup-v1, proc-scan, container-exec-tag'),
  limits: z.string().describe('cgroup-v2, cgroup-v1, cgroup-hybrid, rlimits-only, container-cgroup or container-ulimits (docker under a runtime that ignores cgroups: only cpu_s and nofile)'),
  detail: z.string(),
});

export const InfoResult = z.object({
  version: z.string(),
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  pid: z.number().int(),
  instance_id: z.string(),
  default_runtime: z.string(),
  tiers: z
    .record(
      z.string(),
      z.object({
        available: z.boolean(),
        isolated: z.boolean(),
        detail: z.string().describe('what the health check found; when unavailable, what to install or fix'),
        enforcement: Enforcement.nullable().describe('how this tier tracks processes and enforces limits (null when not configured)'),
      }),
    )
    .describe('host, sandbox and docker, each health-checked at start by really spawning something'),
  enforcement: Enforcement.describe('the host tier (kept for clients that predate per-tier enforcement)'),
  limits: z
    .record(z.string(), z.number())
    .describe('every numeric setting in force, by name (`max_sessions`, `max_idle_s` …); `max_idle_sec` and `session_ttl_sec` are deprecated copies of `max_idle_s` and `session_ttl_s`'),
});
