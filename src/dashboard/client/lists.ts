import type { SessionInfo } from '../../protocol/session.js';
import type { DashboardCommand, Health } from '../snapshot.js';
import { bytes, clock, duration, el } from './format.js';

/**
 * Keyed rendering of the page's lists: existing rows are updated in place
 * (focus and scroll stay where they are), new ones added, gone ones removed.
 */
function reconcile<T>(parent: HTMLElement, items: T[], key: (t: T) => string, make: () => HTMLElement, fill: (e: HTMLElement, t: T) => void): void {
  const old = new Map<string, HTMLElement>();
  for (const child of Array.from(parent.children)) if (child instanceof HTMLElement && child.dataset.key) old.set(child.dataset.key, child);
  let prev: Element | null = null;
  for (const item of items) {
    const k = key(item);
    let e = old.get(k);
    old.delete(k);
    if (!e) {
      e = make();
      e.dataset.key = k;
    }
    fill(e, item);
    const want: Element | null = prev ? prev.nextElementSibling : parent.firstElementChild;
    if (want !== e) parent.insertBefore(e, want);
    prev = e;
  }
  for (const e of old.values()) e.remove();
}

export function renderSessions(ul: HTMLElement, sessions: SessionInfo[], selected: string | null): void {
  reconcile(
    ul,
    sessions,
    (s) => s.session_id,
    () => {
      const li = el('li', null);
      li.setAttribute('role', 'option');
      li.append(el('span', 'name'), el('span', 'meta'), el('span', 'meta'), el('span', 'meta'));
      return li;
    },
    (li, s) => {
      li.setAttribute('aria-selected', String(s.session_id === selected));
      li.id = `session-${s.session_id}`;
      const [name, m1, m2, m3] = Array.from(li.children) as HTMLElement[];
      if (name) name.textContent = s.name ?? s.session_id.slice(0, 8);
      if (m1) m1.textContent = `${s.runtime} · ${s.state} · ${s.running.length} running / ${s.command_count}`;
      if (m2) {
        m2.textContent = `cwd ${s.working_dir}`;
        m2.title = `workspace ${s.workspace}\ncwd ${s.working_dir}`;
      }
      if (m3) {
        const u = s.usage;
        const limits = Object.entries(s.limits)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        m3.textContent = u ? `mem ${bytes(u.memory_bytes)} · ${u.pids} procs · cpu ${u.cpu_s.toFixed(1)} s` : 'usage –';
        m3.title = `limits: ${limits || 'none'}\nenv keys: ${s.env_keys.join(', ') || 'none'}\nworkspace: ${s.workspace}`;
      }
    },
  );
}

export function renderCommands(tbody: HTMLElement, commands: DashboardCommand[], selected: string | null): void {
  reconcile(
    tbody,
    commands,
    (c) => c.command_id,
    () => {
      const tr = el('tr', null);
      tr.tabIndex = 0;
      for (let i = 0; i < 6; i++) tr.append(el('td', i === 2 || i === 4 ? 'num' : null));
      return tr;
    },
    (tr, c) => {
      tr.setAttribute('aria-selected', String(c.command_id === selected));
      tr.id = `command-${c.command_id}`;
      const [cmd, state, exit, signal, dur, flags] = Array.from(tr.children) as HTMLElement[];
      if (cmd) {
        cmd.replaceChildren(el('code', null, c.command ?? '(argv)'));
        cmd.title = c.command ?? '';
      }
      if (state) {
        state.textContent = c.state;
        state.className = `state-${c.state}`;
      }
      if (exit) exit.textContent = c.exit_code === null ? '' : String(c.exit_code);
      if (signal) signal.textContent = c.signal ?? '';
      if (dur) dur.textContent = c.state === 'running' ? 'running' : duration(c.duration_ms);
      if (flags) {
        const f: string[] = [];
        if (c.pty) f.push('pty');
        if (c.background) f.push('bg');
        if (c.timed_out) f.push('timed out');
        if (c.state === 'killed') f.push('killed');
        if (c.truncated) f.push(`cut ${bytes(c.dropped_bytes)}`);
        flags.replaceChildren(...f.map((t) => el('span', 'flag', t)));
      }
    },
  );
}

export function renderHealth(dl: HTMLElement, h: Health, viewers: string): void {
  const rows: [string, string][] = [
    ['sessions', String(h.active_sessions)],
    ['running', String(h.running_commands)],
    ['commands run', String(h.total_commands_run)],
    ['daemon RSS', bytes(h.memory_rss_bytes)],
    ['open fds', String(h.open_fds)],
    ['uptime', duration(h.uptime_s * 1000)],
    [
      'pressure',
      (
        [
          ['cpu', h.pressure.cpu],
          ['mem', h.pressure.memory],
          ['io', h.pressure.io],
        ] as const
      )
        .map(([k, p]) => `${k} ${p === null ? '–' : `${Math.round(p)}%`}`)
        .join(' '),
    ],
    ...Object.entries(h.tiers).map(([name, t]): [string, string] => [
      `tier ${name}${name === h.default_runtime ? ' (default)' : ''}`,
      t.available ? (t.isolated ? 'ok, isolated' : 'ok') : 'unavailable',
    ]),
    ['this page', viewers],
  ];
  const frag = document.createDocumentFragment();
  for (const [k, v] of rows) frag.append(el('dt', null, k), el('dd', null, v));
  dl.replaceChildren(frag);
}

export function renderAudit(ol: HTMLElement, entries: Record<string, unknown>[], enabled: boolean): void {
  if (!enabled) {
    ol.replaceChildren(el('li', 'empty', 'no audit log (start the daemon with --audit-log FILE)'));
    return;
  }
  const frag = document.createDocumentFragment();
  for (const e of [...entries].reverse()) {
    const li = el('li', null);
    const what = [
      e.method,
      e.action,
      e.command,
      e.viewer,
      typeof e.session_id === 'string' ? `s:${e.session_id.slice(0, 8)}` : null,
      e.exit_code !== undefined ? `exit ${JSON.stringify(e.exit_code)}` : null,
    ]
      .filter((x) => x !== null && x !== undefined && x !== '')
      .map((x) => (typeof x === 'string' ? x : JSON.stringify(x)))
      .join(' ');
    li.append(el('span', 'when', `${clock(e.time)} `), document.createTextNode(what));
    frag.append(li);
  }
  ol.replaceChildren(frag);
}
