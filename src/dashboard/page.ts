/** The dashboard's HTML: a fixed frame that the script (client/app.ts) fills; nothing in it comes from the daemon's state. */
export function pageHtml(importMap: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>trl dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/vendor/xterm.css">
<link rel="stylesheet" href="/dashboard/app/style.css">
<script type="importmap">${importMap}</script>
<script type="module" src="/dashboard/app/app.js"></script>
</head>
<body>
<a class="skip" href="#output">Skip to output</a>
<header class="top">
  <h1>trl</h1>
  <span id="grant" class="badge" data-testid="grant">…</span>
  <span id="link" class="badge" role="status" aria-live="polite" data-testid="link">connecting</span>
  <span id="summary" class="summary" data-testid="summary"></span>
</header>
<main class="layout">
  <section class="pane sessions" aria-labelledby="sessions-h">
    <h2 id="sessions-h">Sessions <span id="session-count" class="count"></span></h2>
    <ul id="sessions" class="list" role="listbox" aria-label="Sessions" tabindex="0" data-testid="sessions"></ul>
  </section>
  <section class="pane commands" aria-labelledby="commands-h">
    <h2 id="commands-h">Commands <span id="command-scope" class="count"></span></h2>
    <div class="scroll">
      <table class="grid" data-testid="commands">
        <thead><tr><th scope="col">Command</th><th scope="col">State</th><th scope="col" class="num">Exit</th><th scope="col">Signal</th><th scope="col" class="num">Duration</th><th scope="col">Flags</th></tr></thead>
        <tbody id="commands"></tbody>
      </table>
    </div>
  </section>
  <section class="pane output" id="output" aria-labelledby="output-h" tabindex="-1">
    <h2 id="output-h">Output <span id="output-title" class="count" data-testid="output-title">select a command</span></h2>
    <div id="output-status" class="status" data-testid="output-status"></div>
    <pre id="plain" class="plain" data-testid="plain" tabindex="0" aria-label="Command output"></pre>
    <div id="term" class="term" data-testid="term" hidden></div>
    <form id="controls" class="controls" hidden>
      <input id="input" aria-label="Send to the command's stdin" placeholder="type a line, Enter sends it" autocomplete="off">
      <button type="button" id="interrupt">Interrupt</button>
      <button type="button" id="cancel">Cancel</button>
    </form>
  </section>
  <section class="pane side" aria-label="Daemon">
    <h2>Health</h2>
    <dl id="health" class="health" data-testid="health"></dl>
    <h2>Audit log</h2>
    <ol id="audit" class="audit" data-testid="audit"></ol>
  </section>
</main>
</body>
</html>
`;
}

function notice(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">
<title>trl dashboard: ${title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/app/style.css"></head>
<body class="notice"><main><h1>${title}</h1><p>${body}</p><p>Run <code>trl dashboard --url URL</code> (with <code>TRL_AUTH_TOKEN</code> set) for a new link; it works once, for a minute.</p></main></body></html>
`;
}

export function signedOutPage(): string {
  return notice('Not signed in', 'This browser has no dashboard session for this daemon.');
}

export function loginRefusedPage(why: 'unknown' | 'expired' | 'used'): string {
  const text = { unknown: 'This link is not one this daemon gave out.', expired: 'This link has expired.', used: 'This link was already used.' }[why];
  return notice('Link refused', text);
}
