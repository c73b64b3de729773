import type { ResultOf } from '../protocol/methods.js';
import { formatBytes, formatFields, formatTable } from './output.js';

type SessionInfo = ResultOf<'session.info'>;

/** `trl session ls`: one row per live session. */
export function formatSessionList(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no live sessions\n';
  return formatTable([
    ['ID', 'NAME', 'TIER', 'NET', 'STATE', 'CMDS', 'RUNNING', 'CWD'],
    ...sessions.map((s) => [s.session_id, s.name ?? '-', s.runtime, s.isolation.network ? 'on' : 'off', s.state, String(s.command_count), String(s.running.length), s.working_dir]),
  ]);
}

/** `trl session info`: every field of session.info, variable names only. */
export function formatSessionInfo(s: SessionInfo): string {
  const detail = Object.entries(s.isolation.detail).map(([k, v]) => `${k}=${v}`);
  return formatFields([
    ['id', s.session_id],
    ['name', s.name ?? '-'],
    ['tier', `${s.runtime} (${s.isolation.isolated ? 'isolated' : 'not isolated: commands run as the daemon user'})`],
    ['network', s.isolation.network ? 'on' : 'off'],
    ['isolation', detail.length > 0 ? detail.join(' ') : '-'],
    ['state', s.state],
    ['shell', s.shell],
    ['cwd', s.working_dir],
    ['workspace', s.workspace],
    ['env keys', s.env_keys.length > 0 ? s.env_keys.join(' ') : '-'],
    ['secret keys', s.secret_keys.length > 0 ? s.secret_keys.join(' ') : '-'],
    ['redact output', s.redact_output ? 'yes' : 'no'],
    ['timeout', s.timeout_s === 0 ? 'none' : `${s.timeout_s}s`],
    ['commands run', String(s.command_count)],
    ['running', s.running.length > 0 ? s.running.join(' ') : '-'],
    ['created', s.created_at],
    ['last activity', s.last_activity],
    ['limits', formatLimits(s.limits)],
    ['usage', s.usage ? formatUsage(s.usage) : '-'],
  ]);
}

/** `memory_bytes=512.0 MiB pids=100`: sizes in binary units, as --limit takes them. */
function formatLimits(limits: Record<string, number>): string {
  const parts = Object.entries(limits).map(([k, v]) => `${k}=${k.endsWith('_bytes') ? formatBytes(v).replace(' ', '') : v}`);
  return parts.length > 0 ? parts.join(' ') : '-';
}

function formatUsage(u: NonNullable<SessionInfo['usage']>): string {
  return `memory ${formatBytes(u.memory_bytes)}, ${u.pids} process${u.pids === 1 ? '' : 'es'}, CPU ${u.cpu_s.toFixed(2)} s`;
}
