import type { CommandView, ListOutput, StopOutput } from './tool-schemas.js';

/**
 * Text renderings made for a model: the output as it was printed, then one
 * bracketed line with what it needs next — the exit code, the cwd, how long,
 * what was cut, and for a command still running how to go on with it.
 */
export function renderCommand(v: CommandView, notes: string[] = []): string {
  const parts: string[] = [];
  if (v.stdout.length > 0) parts.push(withNewline(v.stdout));
  if (v.stderr.length > 0) parts.push(`[stderr]\n${withNewline(v.stderr)}`);
  if (parts.length === 0) parts.push(v.running ? '(no output yet)\n' : '(no output)\n');
  parts.push(`[${statusLine(v)}]`);
  for (const n of notes) parts.push(`\n[${n}]`);
  return parts.join('');
}

function statusLine(v: CommandView): string {
  const facts: string[] = [];
  if (v.running) {
    facts.push(`still running (command_id ${v.command_id}): read more with output, type into it with input, end it with stop`);
  } else {
    facts.push(endedHow(v));
    if (v.duration_ms !== null) facts.push(seconds(v.duration_ms));
  }
  if (v.cwd !== null) facts.push(`cwd ${v.cwd}`);
  facts.push(`session ${v.session}`);
  if (!v.running) facts.push(`command_id ${v.command_id}`);
  if (v.left_out.length > 0) facts.push(`${v.left_out.reduce((n, r) => n + r.to - r.from, 0)} bytes left out (see the cut lines)`);
  if (v.lost_bytes > 0) facts.push(`${v.lost_bytes} bytes no longer kept by the daemon`);
  if (v.invalid_utf8) facts.push('bytes that are not UTF-8 shown as U+FFFD');
  return facts.join(' · ');
}

function endedHow(v: CommandView): string {
  if (v.timed_out) return `killed by its timeout (${v.signal ?? 'signal'}), exit code ${v.exit_code}`;
  if (v.signal) return `killed by ${v.signal}, exit code ${v.exit_code}`;
  return `exit code ${v.exit_code}`;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms / 1000)} s`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : text + '\n';
}

export function renderStop(s: StopOutput): string {
  if (s.command) return renderCommand(s.command, s.stopped.length === 0 ? ['it had already ended: nothing to stop'] : []);
  return `[session ${s.session} ended: ${s.killed_processes ?? 0} processes killed${s.stopped.length > 0 ? `, commands ${s.stopped.join(', ')} stopped` : ''}; the next run naming it starts a fresh session]`;
}

export function renderList(l: ListOutput): string {
  if (l.sessions.length === 0) return '(no sessions yet: run creates one on first use)';
  const lines: string[] = [];
  for (const s of l.sessions) {
    lines.push(`session ${s.session}: ${s.state}, ${s.runtime}${s.network ? '' : ', no network'}, cwd ${s.cwd}`);
    for (const c of l.commands.filter((c) => c.session === s.session)) {
      const how = c.state === 'running' ? 'running' : c.signal ? `${c.state} (${c.signal}, exit ${c.exit_code})` : `exit ${c.exit_code}`;
      lines.push(`  ${c.command_id}  ${how}  ${c.stdout_bytes + c.stderr_bytes} bytes  ${clip(c.command ?? '', 100)}`);
    }
  }
  return lines.join('\n');
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s*\n\s*/g, ' ');
  return one.length <= n ? one : one.slice(0, n - 1) + '…';
}
