import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { compiledPath } from '../install-dir.js';
import { pageHtml } from './page.js';
import { STYLES } from './styles.js';

/** One file the dashboard serves: its bytes and type, read once. */
export interface Asset {
  body: Buffer;
  type: string;
}

/** The page's own scripts: src/dashboard/client/*.ts, compiled by the build to dist/src/dashboard/client. */
const CLIENT_DIR = compiledPath('dashboard/client');

/** xterm.js and its fit addon, from the installed packages (no CDN): URL name → package file. */
const VENDOR: ReadonlyArray<[string, string, string]> = [
  ['xterm.mjs', '@xterm/xterm', 'lib/xterm.mjs'],
  ['xterm.css', '@xterm/xterm', 'css/xterm.css'],
  ['addon-fit.mjs', '@xterm/addon-fit', 'lib/addon-fit.mjs'],
];

/** Where the page's bare imports point (an import map: the compiled client imports '@xterm/xterm' as TypeScript sees it). */
const IMPORT_MAP = JSON.stringify({ imports: { '@xterm/xterm': '/dashboard/vendor/xterm.mjs', '@xterm/addon-fit': '/dashboard/vendor/addon-fit.mjs' } });

const JS = 'text/javascript; charset=utf-8';

/**
 * Every file of the dashboard, by URL path, loaded at start-up from the
 * package itself: a missing one stops the daemon with a message rather than
 * serving a broken page. The page's Content-Security-Policy admits only
 * these scripts (and the import map, by its hash) and connections to the
 * daemon itself.
 */
export function loadAssets(): { files: Map<string, Asset>; csp: string } {
  const files = new Map<string, Asset>();
  const require = createRequire(import.meta.url);
  for (const [name, pkg, file] of VENDOR) {
    const root = dirname(require.resolve(`${pkg}/package.json`));
    files.set(`/dashboard/vendor/${name}`, { body: readFileSync(join(root, file)), type: name.endsWith('.css') ? 'text/css; charset=utf-8' : JS });
  }
  for (const name of readdirSync(CLIENT_DIR)) {
    if (name.endsWith('.js')) files.set(`/dashboard/app/${name}`, { body: readFileSync(join(CLIENT_DIR, name)), type: JS });
  }
  if (!files.has('/dashboard/app/app.js')) throw new Error(`the dashboard's script is missing from ${CLIENT_DIR}; rebuild trl (npm run build)`);
  files.set('/dashboard/app/style.css', { body: Buffer.from(STYLES), type: 'text/css; charset=utf-8' });
  files.set('/dashboard', { body: Buffer.from(pageHtml(IMPORT_MAP)), type: 'text/html; charset=utf-8' });
  const mapHash = createHash('sha256').update(IMPORT_MAP).digest('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${mapHash}'`,
    // xterm.js positions its rows and cursor with style attributes.
    "style-src 'self' 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { files, csp };
}
