/**
 * Which packages a program loads at start-up: import one module in a fresh
 * Node process and list the node_modules packages of every module it loaded —
 * ES modules through a resolve hook, CommonJS ones through require.cache
 * (which also sees the require() calls inside CommonJS packages).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir } from './daemon.js';

const HOOKS = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}
`;

const REGISTER = `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { file: process.env.TRACE_FILE } });
`;

const MAIN = `import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
await import(process.argv[2]);
const cjs = Object.keys(createRequire(import.meta.url).cache).map((p) => 'file://' + p);
appendFileSync(process.env.TRACE_FILE, cjs.join('\\n') + '\\n');
`;

/** Package names (e.g. `zod`, `@lydell/node-pty`) under any node_modules in these file URLs. */
export function packagesOf(urls: string[]): string[] {
  const names = new Set<string>();
  for (const url of urls) {
    const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

/**
 * Import `specifier` in a fresh Node process; the packages it loaded. A bare
 * name resolves from the project directory `project` (the importer is put there for the run).
 */
export function packagesLoadedBy(specifier: string, project?: string): string[] {
  const dir = makeTempDir('/tmp/trl-trace-');
  try {
    fs.writeFileSync(path.join(dir, 'hooks.mjs'), HOOKS);
    fs.writeFileSync(path.join(dir, 'register.mjs'), REGISTER);
    fs.writeFileSync(path.join(dir, 'main.mjs'), MAIN);
    const trace = path.join(dir, 'trace.txt');
    // A bare name resolves from the importing file: then main.mjs goes next to the project's node_modules.
    const main = project === undefined ? path.join(dir, 'main.mjs') : path.join(project, `.trl-trace-main-${process.pid}.mjs`);
    if (project !== undefined) fs.copyFileSync(path.join(dir, 'main.mjs'), main);
    try {
      execFileSync(process.execPath, ['--import', path.join(dir, 'register.mjs'), main, specifier], {
        cwd: project ?? dir,
        env: { ...process.env, TRACE_FILE: trace },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } finally {
      if (project !== undefined) fs.rmSync(main, { force: true });
    }
    return packagesOf(fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The daemon's own dependencies: none may load in a program that only uses the SDK. */
export const SERVER_PACKAGES = ['pino', 'dockerode', '@lydell/node-pty', 'koffi', '@modelcontextprotocol/server', 'commander'];
