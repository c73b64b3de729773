import type { CommandInfo } from '../protocol/exec.js';
import type { Command } from './command.js';
import { exitCodeOf } from './exec-result.js';
import { redactText } from './redactor.js';

export function commandInfo(cmd: Command): CommandInfo {
  const done = !cmd.running;
  return {
    command_id: cmd.id,
    session_id: cmd.spec.sessionId,
    state: cmd.state,
    command: redactText(cmd.spec.text, cmd.spec.secrets),
    pid: cmd.pid,
    pty: cmd.pty !== null,
    background: cmd.background,
    started_at: cmd.startedAt.toISOString(),
    ended_at: cmd.endedAt?.toISOString() ?? null,
    duration_ms: done ? Math.round(cmd.durationMs) : null,
    exit_code: exitCodeOf(cmd),
    signal: cmd.exit?.signal ?? null,
    timed_out: cmd.killReason === 'timeout' || cmd.killReason === 'idle_timeout',
    stdout_bytes: cmd.stdout.total,
    stderr_bytes: cmd.stderr.total,
    stdin_open: cmd.stdinOpen,
  };
}
