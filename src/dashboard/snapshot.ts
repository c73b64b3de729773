import { readFileSync } from 'node:fs';
import type { CommandInfo } from '../protocol/exec.js';
import type { SessionInfo } from '../protocol/session.js';
import type { Engine } from '../runtime/engine.js';

/** Commands a snapshot carries at most (the newest): the page lists them, `exec.list` has them all. */
const MAX_COMMANDS = 300;

/** A command as the dashboard lists it: the API's CommandInfo plus what was cut and the terminal's size. */
export interface DashboardCommand extends CommandInfo {
  truncated: boolean;
  dropped_bytes: number;
  pty_size: { cols: number; rows: number } | null;
}

export interface Health {
  tiers: Record<string, { available: boolean; isolated: boolean; detail: string }>;
  default_runtime: string;
  memory_rss_bytes: number;
  running_commands: number;
  active_sessions: number;
  total_commands_run: number;
  uptime_s: number;
  open_fds: number;
  /** The kernel's pressure stall figures (avg10, %), where /proc/pressure exists. */
  pressure: { cpu: number | null; memory: number | null; io: number | null };
}

export interface Snapshot {
  sessions: SessionInfo[];
  commands: DashboardCommand[];
  health: Health;
}

/**
 * What the page shows, from the engine's own answers (session.list,
 * exec.list, system.stats and system.info): the same redaction, env keys
 * and never values. `usage` comes from the last session.info of each.
 */
export function buildSnapshot(rt: Engine, usage: ReadonlyMap<string, SessionInfo['usage']>): Snapshot {
  const sessions = rt.listSessions().map((s) => ({ ...s, usage: usage.get(s.session_id) ?? null }));
  const live = new Set(sessions.map((s) => s.session_id));
  const commands = rt
    .listCommands(undefined)
    .filter((c) => live.has(c.session_id) || c.state !== 'running')
    .slice(-MAX_COMMANDS)
    .map((c) => withOutputFacts(rt, c));
  const stats = rt.stats();
  const info = rt.info();
  const tiers: Health['tiers'] = {};
  for (const [name, t] of Object.entries(info.tiers)) tiers[name] = { available: t.available, isolated: t.isolated, detail: t.detail };
  return {
    sessions,
    commands,
    health: {
      tiers,
      default_runtime: info.default_runtime,
      memory_rss_bytes: stats.memory_rss_bytes,
      running_commands: stats.running_commands,
      active_sessions: stats.active_sessions,
      total_commands_run: stats.total_commands_run,
      uptime_s: stats.uptime_s,
      open_fds: stats.open_fds,
      pressure: { cpu: pressure('cpu'), memory: pressure('memory'), io: pressure('io') },
    },
  };
}

function withOutputFacts(rt: Engine, c: CommandInfo): DashboardCommand {
  let dropped = 0;
  let ptySize: DashboardCommand['pty_size'] = null;
  try {
    const cmd = rt.getCommand(c.command_id);
    dropped = cmd.stdout.dropped + cmd.stderr.dropped;
    ptySize = cmd.pty ? { ...cmd.pty } : null;
  } catch {
    /* forgotten between the list and now */
  }
  return { ...c, truncated: dropped > 0, dropped_bytes: dropped, pty_size: ptySize };
}

/** `some avg10` of /proc/pressure/NAME, or null where the kernel has no PSI. */
function pressure(name: 'cpu' | 'memory' | 'io'): number | null {
  try {
    const m = /^some avg10=([\d.]+)/m.exec(readFileSync(`/proc/pressure/${name}`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
