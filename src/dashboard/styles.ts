/**
 * The page's stylesheet. Light and dark follow the system (prefers-color-scheme).
 * The panes have fixed tracks and the output scrolls inside its own box, so
 * nothing moves while output streams; counters use tabular figures.
 */
export const STYLES = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --accent: #0b57d0; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; --sel: #dbe7fd;
  --term-bg: #ffffff; --term-fg: #1b1f24;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --panel: #161b22; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d;
    --accent: #79b8ff; --ok: #56d364; --bad: #ff7b72; --warn: #e3b341; --sel: #1f3a5f;
    --term-bg: #0d1117; --term-fg: #e6edf3;
  }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; background: var(--bg); color: var(--fg); }
body { display: flex; flex-direction: column; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; z-index: 10; background: var(--panel); padding: 4px 8px; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.top { display: flex; align-items: center; gap: 12px; padding: 6px 12px; border-bottom: 1px solid var(--line); background: var(--panel); flex: none; min-height: 40px; }
.top h1 { font-size: 16px; margin: 0; }
.badge { border: 1px solid var(--line); border-radius: 10px; padding: 0 8px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.badge.live { color: var(--ok); border-color: var(--ok); }
.badge.down { color: var(--bad); border-color: var(--bad); }
.badge.write { color: var(--warn); border-color: var(--warn); }
.summary { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; margin-left: auto; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.layout { flex: 1; min-height: 0; display: grid; gap: 8px; padding: 8px;
  grid-template-columns: 250px minmax(0, 1fr) 270px; grid-template-rows: minmax(0, 34fr) minmax(0, 66fr);
  grid-template-areas: "sessions commands side" "sessions output side"; }
.pane { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; min-height: 0; min-width: 0; display: flex; flex-direction: column; overflow: hidden; }
.pane h2 { font-size: 13px; margin: 0; padding: 6px 10px; border-bottom: 1px solid var(--line); flex: none; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.count { color: var(--muted); font-weight: normal; font-variant-numeric: tabular-nums; }
.sessions { grid-area: sessions; } .commands { grid-area: commands; } .output { grid-area: output; } .side { grid-area: side; overflow: auto; }
.list { list-style: none; margin: 0; padding: 4px; overflow: auto; flex: 1; }
.list li { padding: 6px 8px; border-radius: 4px; cursor: pointer; border: 1px solid transparent; }
.list li[aria-selected="true"] { background: var(--sel); border-color: var(--accent); }
.list li .name { font-weight: 600; display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.list li .meta { font-size: 12px; color: var(--muted); display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
.scroll { overflow: auto; flex: 1; }
.grid { border-collapse: collapse; width: 100%; font-size: 12px; font-variant-numeric: tabular-nums; table-layout: fixed; }
.grid th { position: sticky; top: 0; background: var(--panel); text-align: left; color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); padding: 4px 6px; }
.grid th:nth-child(1) { width: auto; } .grid th:nth-child(2) { width: 72px; } .grid th:nth-child(3) { width: 44px; } .grid th:nth-child(4) { width: 70px; } .grid th:nth-child(5) { width: 72px; } .grid th:nth-child(6) { width: 120px; }
.grid td { padding: 3px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.grid td.num, .grid th.num { text-align: right; }
.grid tr { cursor: pointer; }
.grid tr[aria-selected="true"] td { background: var(--sel); }
.grid code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.state-running { color: var(--accent); } .state-exited { color: var(--ok); } .state-failed, .state-killed, .state-timed_out { color: var(--bad); }
.flag { display: inline-block; font-size: 11px; padding: 0 4px; margin-right: 2px; border-radius: 3px; border: 1px solid var(--line); }
.status { font-size: 12px; color: var(--muted); padding: 4px 10px; min-height: 24px; flex: none; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
.plain { flex: 1; min-height: 0; margin: 0; padding: 6px 10px; overflow: auto; font: 12px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; overflow-wrap: anywhere; background: var(--term-bg); color: var(--term-fg); }
.plain .err { color: var(--bad); }
.plain .gap { color: var(--warn); font-style: italic; }
.term { flex: 1; min-height: 0; padding: 4px; background: var(--term-bg); overflow: hidden; }
.term[hidden], .plain[hidden], .controls[hidden] { display: none; }
.controls { display: flex; gap: 6px; padding: 6px; border-top: 1px solid var(--line); flex: none; }
.controls input { flex: 1; min-width: 0; font: 12px ui-monospace, monospace; padding: 4px 6px; background: var(--bg); color: var(--fg); border: 1px solid var(--line); border-radius: 4px; }
.controls button { font: inherit; font-size: 12px; padding: 3px 10px; border-radius: 4px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); cursor: pointer; }
.health { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; padding: 8px 10px; font-size: 12px; font-variant-numeric: tabular-nums; }
.health dt { color: var(--muted); white-space: nowrap; } .health dd { margin: 0; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.audit { list-style: none; margin: 0; padding: 4px 10px; font-size: 11px; font-family: ui-monospace, monospace; }
.audit li { padding: 2px 0; border-bottom: 1px dashed var(--line); overflow-wrap: anywhere; }
.audit .when { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; padding: 6px 10px; }
.notice main { max-width: 560px; margin: 15vh auto; padding: 0 16px; }
@media (max-width: 900px) {
  html, body { height: auto; }
  .layout { grid-template-columns: minmax(0, 1fr); grid-template-rows: 180px 220px 420px auto; grid-template-areas: "sessions" "commands" "output" "side"; }
  .summary { display: none; }
  .grid th:nth-child(4), .grid td:nth-child(4), .grid th:nth-child(3), .grid td:nth-child(3) { display: none; }
  .grid th:nth-child(2) { width: 64px; } .grid th:nth-child(5) { width: 64px; } .grid th:nth-child(6) { width: 96px; }
}
`;
