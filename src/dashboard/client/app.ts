import type { Snapshot, DashboardCommand } from '../snapshot.js';
import { renderAudit, renderCommands, renderHealth, renderSessions } from './lists.js';
import { PlainView } from './plain-view.js';
import { DashboardSocket, type FeedMessage, type StreamEvent } from './socket.js';
import { TermView } from './term-view.js';

/** The live dashboard page: the feed's snapshots into lists, the selected command's output into a view. */

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

const ui = {
  grant: byId('grant'),
  link: byId('link'),
  summary: byId('summary'),
  sessions: byId<HTMLUListElement>('sessions'),
  sessionCount: byId('session-count'),
  commands: byId<HTMLTableSectionElement>('commands'),
  commandScope: byId('command-scope'),
  outputTitle: byId('output-title'),
  outputStatus: byId('output-status'),
  plain: byId<HTMLPreElement>('plain'),
  term: byId<HTMLDivElement>('term'),
  controls: byId<HTMLFormElement>('controls'),
  input: byId<HTMLInputElement>('input'),
  interrupt: byId<HTMLButtonElement>('interrupt'),
  cancel: byId<HTMLButtonElement>('cancel'),
  health: byId('health'),
  audit: byId('audit'),
};

const state = {
  viewer: '',
  writable: false,
  snapshot: null as (Snapshot & { audit: Record<string, unknown>[]; audit_enabled: boolean }) | null,
  session: null as string | null,
  command: null as string | null,
  /** The stream of the command on view, and its command. */
  stream: null as { id: string | null; command: string; pty: boolean } | null,
};

const plain = new PlainView(ui.plain);
let term: TermView | null = null;
const socket = new DashboardSocket(onFeed, onLink, onOpen);

/** `#s=<session>&c=<command>`: what a reload comes back to. */
function readHash(): void {
  const p = new URLSearchParams(location.hash.slice(1));
  state.session = p.get('s');
  state.command = p.get('c');
}

function writeHash(): void {
  const p = new URLSearchParams();
  if (state.session) p.set('s', state.session);
  if (state.command) p.set('c', state.command);
  history.replaceState(null, '', `#${p.toString()}`);
}

function onLink(s: 'live' | 'down' | 'connecting', detail: string): void {
  ui.link.textContent = detail;
  ui.link.className = `badge ${s === 'live' ? 'live' : s === 'down' ? 'down' : ''}`;
  if (s !== 'live') state.stream = null;
}

function onOpen(): void {
  // A reconnect replays the command on view from the start of its buffer.
  if (state.command) attach(state.command);
}

function onFeed(m: FeedMessage): void {
  if (m.event === 'hello') {
    const d = m.data as { viewer: string; grant: 'read' | 'write' };
    state.viewer = d.viewer;
    state.writable = d.grant === 'write';
    ui.grant.textContent = state.writable ? 'write' : 'read-only';
    ui.grant.className = `badge ${state.writable ? 'write' : ''}`;
    return;
  }
  if (m.event === 'snapshot') {
    state.snapshot = m.data as NonNullable<typeof state.snapshot>;
    render();
  }
}

function visibleCommands(): DashboardCommand[] {
  const all = state.snapshot?.commands ?? [];
  const list = state.session ? all.filter((c) => c.session_id === state.session) : all;
  return [...list].reverse();
}

function render(): void {
  const snap = state.snapshot;
  if (!snap) return;
  renderSessions(ui.sessions, snap.sessions, state.session);
  ui.sessionCount.textContent = `(${snap.sessions.length})`;
  const cmds = visibleCommands();
  renderCommands(ui.commands, cmds, state.command);
  ui.commandScope.textContent = state.session ? `of ${snap.sessions.find((s) => s.session_id === state.session)?.name ?? state.session.slice(0, 8)} (${cmds.length})` : `all sessions (${cmds.length})`;
  renderHealth(ui.health, snap.health, `${state.viewer} (${state.writable ? 'write' : 'read-only'})`);
  renderAudit(ui.audit, snap.audit, snap.audit_enabled);
  const h = snap.health;
  ui.summary.textContent = `${h.active_sessions} sessions · ${h.running_commands} running · RSS ${Math.round(h.memory_rss_bytes / 1048576)} MiB`;
  const current = snap.commands.find((c) => c.command_id === state.command);
  if (current) {
    showStatus(current);
    if (current.pty) term?.resized(current.pty_size);
  }
}

function showStatus(c: DashboardCommand): void {
  const parts: string[] = [c.state];
  if (c.exit_code !== null) parts.push(`exit ${c.exit_code}`);
  if (c.signal) parts.push(`signal ${c.signal}`);
  if (c.duration_ms !== null) parts.push(`${c.duration_ms} ms`);
  if (c.timed_out) parts.push('timed out');
  if (c.truncated) parts.push(`${c.dropped_bytes} bytes cut from the middle`);
  if (c.pty && c.pty_size) parts.push(`pty ${c.pty_size.cols}×${c.pty_size.rows}`);
  ui.outputStatus.textContent = parts.join(' · ');
}

function selectSession(id: string | null): void {
  state.session = state.session === id ? null : id;
  writeHash();
  render();
}

function selectCommand(id: string): void {
  if (state.command === id && state.stream?.command === id) return;
  state.command = id;
  writeHash();
  render();
  attach(id);
}

/** Show one command: its output from the start of its buffer, then live. */
function attach(id: string): void {
  const old = state.stream;
  if (old?.id) void socket.request('dashboard.detach', { stream_id: old.id }).catch(() => undefined);
  const info = state.snapshot?.commands.find((c) => c.command_id === id);
  const pty = info?.pty ?? false;
  ui.outputTitle.textContent = info?.command ?? id;
  plain.clear();
  ui.plain.hidden = pty;
  ui.term.hidden = !pty;
  if (pty) {
    term ??= new TermView(
      ui.term,
      state.writable,
      (data) => void socket.request('exec.input', { command_id: id, data }).catch(showError),
      (cols, rows) => void socket.request('exec.resize', { command_id: id, cols, rows }).catch(showError),
    );
    term.open(info?.pty_size ?? null);
  } else term?.dispose();
  ui.controls.hidden = !state.writable;
  ui.input.hidden = pty;
  const stream: { id: string | null; command: string; pty: boolean } = { id: null, command: id, pty };
  state.stream = stream;
  socket
    .request('exec.attach', { command_id: id, from_offset: 0 }, (ev) => onStream(stream, ev))
    .then((d) => {
      stream.id = (d as { stream_id: string }).stream_id;
    })
    .catch(showError);
}

function onStream(stream: { command: string; pty: boolean }, ev: StreamEvent): void {
  if (state.stream?.command !== stream.command) return;
  if (ev.event === 'stdout' || ev.event === 'stderr') {
    const text = typeof ev.data === 'string' ? ev.data : '';
    if (stream.pty) term?.write(text);
    else plain.append(text, ev.event === 'stderr' ? 'err' : null);
  } else if (ev.event === 'gap') {
    const note = `\n[${ev.dropped_bytes ?? 0} bytes of output were dropped here]\n`;
    if (stream.pty) term?.write(`\r\n\x1b[33m${note.trim()}\x1b[0m\r\n`);
    else plain.append(note, 'gap');
  }
}

function showError(err: unknown): void {
  ui.outputStatus.textContent = err instanceof Error ? err.message : String(err);
}

// ---- keyboard and pointer
ui.sessions.addEventListener('click', (e) => {
  const li = (e.target as HTMLElement).closest('li');
  if (li?.dataset.key) selectSession(li.dataset.key);
});
/** Where a key moves the focus in the session list (from index `at` of `n`). */
const MOVES: Record<string, (at: number, n: number) => number> = {
  ArrowDown: (at, n) => Math.min(n - 1, at + 1),
  ArrowUp: (at) => Math.max(0, at - 1),
  Home: () => 0,
  End: (_at, n) => n - 1,
};
ui.sessions.addEventListener('keydown', (e) => {
  const items = Array.from(ui.sessions.children) as HTMLElement[];
  if (items.length === 0) return;
  const at = items.findIndex((i) => i.dataset.key === (document.activeElement as HTMLElement | null)?.dataset.key);
  if ((e.key === 'Enter' || e.key === ' ') && at >= 0) {
    e.preventDefault();
    selectSession(items[at]?.dataset.key ?? null);
    return;
  }
  const move = MOVES[e.key];
  if (!move) return;
  e.preventDefault();
  const item = items[move(at, items.length)];
  if (item) {
    item.tabIndex = -1;
    item.focus();
  }
});
ui.commands.addEventListener('click', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (tr?.dataset.key) selectCommand(tr.dataset.key);
});
ui.commands.addEventListener('keydown', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (!tr) return;
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    if (tr.dataset.key) selectCommand(tr.dataset.key);
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling;
    if (next instanceof HTMLElement) next.focus();
  }
});
ui.controls.addEventListener('submit', (e) => e.preventDefault());
ui.input.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !state.command) return;
  e.preventDefault();
  const data = ui.input.value + '\n';
  ui.input.value = '';
  void socket.request('exec.input', { command_id: state.command, data }).catch(showError);
});
ui.interrupt.addEventListener('click', () => {
  if (state.command) void socket.request('exec.signal', { command_id: state.command, signal: 'SIGINT' }).catch(showError);
});
ui.cancel.addEventListener('click', () => {
  if (state.command) void socket.request('exec.cancel', { command_id: state.command }).catch(showError);
});

readHash();
socket.connect();
