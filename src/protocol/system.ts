import { z } from 'zod';

export const PingParams = z.strictObject({});
export const PingResult = z.object({ uptime_s: z.number(), version: z.string() });

export const StatsParams = z.strictObject({});
export const StatsResult = z.object({
  active_sessions: z.number().int(),
  running_commands: z.number().int(),
  total_commands_run: z.number().int(),
  uptime_s: z.number(),
  memory_rss_bytes: z.number().int(),
  open_fds: z.number().int(),
  zombie_children: z.number().int().describe('exited children of the daemon not yet reaped (should stay 0)'),
  tiers: z.record(z.string(), z.object({ sessions: z.number().int(), running_commands: z.number().int() })),
});

export const InfoParams = z.strictObject({});
export const InfoResult = z.object({
  version: z.string(),
  node: z.string(),
  platform: z.string(),
  arch: z.string(),
  pid: z.number().int(),
  instance_id: z.string(),
  default_runtime: z.string(),
  tiers: z.record(
    z.string(),
    z.object({ available: z.boolean(), isolated: z.boolean(), detail: z.string() }),
  ),
  enforcement: z.object({
    process_tracking: z.string().describe('how session processes are found: cgroup-v2, cgroup-v1 or proc-scan'),
    limits: z.string().describe('cgroup-v2, cgroup-v1, cgroup-hybrid or rlimits-only'),
    detail: z.string(),
  }),
  limits: z.record(z.string(), z.number()),
});
