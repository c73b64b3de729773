/**
 * Keys by name, as a model writes them ("Enter", "Ctrl-C", "ctrl+d", "^C",
 * "Up"), and what typing them means for a command. Under a pseudo-terminal a
 * key is its bytes (the terminal turns Ctrl-C into SIGINT itself). On plain
 * pipes there is no terminal: Ctrl-C, Ctrl-\ and Ctrl-Z become the signals a
 * terminal would send to the whole tree, Ctrl-D closes stdin, Enter is "\n".
 */
export type KeyAction = { bytes: string } | { signal: 'SIGINT' | 'SIGQUIT' | 'SIGTSTP' } | { eof: true };

const NAMED: Record<string, string> = {
  enter: '\r',
  return: '\r',
  tab: '\t',
  escape: '\x1b',
  esc: '\x1b',
  backspace: '\x7f',
  delete: '\x1b[3~',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  home: '\x1b[H',
  end: '\x1b[F',
  pageup: '\x1b[5~',
  pagedown: '\x1b[6~',
  space: ' ',
};

/** For tool descriptions and error messages. */
export const KEY_NAMES = 'Enter, Tab, Escape, Backspace, Delete, Up, Down, Left, Right, Home, End, PageUp, PageDown, Space, Ctrl-A to Ctrl-Z, Ctrl-\\, Ctrl-]';

/** "Ctrl+C", "control-c", "C-c", "^C" → "ctrl-c"; other names lowercased without spaces, dashes or underscores. */
export function normalizeKey(name: string): string {
  const k = name.trim().toLowerCase().replace(/\s+/g, '');
  const ctrl = /^(?:ctrl|control|c)[-+_]?(.)$|^\^(.)$/.exec(k);
  if (ctrl) return `ctrl-${ctrl[1] ?? ctrl[2]}`;
  return k.replace(/[-_]/g, '');
}

function controlByte(ch: string): string | null {
  if (/^[a-z]$/.test(ch)) return String.fromCharCode(ch.charCodeAt(0) - 96);
  const specials: Record<string, string> = { '@': '\x00', '[': '\x1b', '\\': '\x1c', ']': '\x1d', '^': '\x1e', _: '\x1f', '?': '\x7f' };
  return specials[ch] ?? null;
}

const PIPE_SIGNALS: Record<string, 'SIGINT' | 'SIGQUIT' | 'SIGTSTP'> = { c: 'SIGINT', '\\': 'SIGQUIT', z: 'SIGTSTP' };

/** What typing `name` does to a command (`pty`: it runs under a pseudo-terminal); null for an unknown name. */
export function keyAction(name: string, pty: boolean): KeyAction | null {
  const k = normalizeKey(name);
  if (k.startsWith('ctrl-')) {
    const ch = k.slice(5);
    const byte = controlByte(ch);
    if (byte === null) return null;
    if (pty) return { bytes: byte };
    if (PIPE_SIGNALS[ch]) return { signal: PIPE_SIGNALS[ch] };
    if (ch === 'd') return { eof: true };
    return { bytes: byte };
  }
  const seq = NAMED[k];
  if (seq === undefined) return null;
  if (!pty && seq === '\r') return { bytes: '\n' };
  return { bytes: seq };
}
