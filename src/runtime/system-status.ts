import type { z } from 'zod';
import type { InfoResult, StatsResult } from '../protocol/system.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { zombieChildren } from '../tiers/shared/process-table.js';
import { openFdCount } from './daemon-resources.js';
import type { EngineState } from './engine-state.js';
import { limitsInForce } from './limits-in-force.js';

/** Whole seconds since the daemon started (an integer: claw-core's clients decode it as one). */
export function uptime(st: EngineState): number {
  return Math.floor((Date.now() - st.startedAt) / 1000);
}

/** system.stats: sessions and commands now, per tier, and the daemon's own resources. */
export function stats(st: EngineState): z.infer<typeof StatsResult> {
  let running = 0;
  const tiers: Record<string, { sessions: number; running_commands: number }> = {};
  for (const s of st.sessions.values()) {
    running += s.running.size;
    const t = (tiers[s.runtime] ??= { sessions: 0, running_commands: 0 });
    t.sessions++;
    t.running_commands += s.running.size;
  }
  return {
    active_sessions: st.sessions.size,
    running_commands: running,
    total_commands_run: st.totalCommands,
    uptime_s: uptime(st),
    memory_rss_bytes: process.memoryUsage.rss(),
    open_fds: openFdCount(),
    zombie_children: zombieChildren(),
    tiers,
  };
}

/** system.info: versions, every tier's health and enforcement, the limits in force. */
export function info(st: EngineState): z.infer<typeof InfoResult> {
  const tiers: z.infer<typeof InfoResult>['tiers'] = {};
  for (const [name, health] of st.health) tiers[name] = { ...health, enforcement: st.tiers.get(name)?.enforcement() ?? null };
  // The default tier is always configured (the daemon does not start otherwise).
  const main = st.tiers.get(st.defaultTier);
  if (!main) throw new Error(`the default tier ${st.defaultTier} is not configured`);
  return {
    version: PROTOCOL_VERSION,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    pid: process.pid,
    instance_id: st.instanceId,
    default_runtime: st.defaultTier,
    tiers,
    enforcement: main.enforcement(),
    limits: limitsInForce(st.config),
  };
}
