import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { StartupError } from './startup-error.js';

/**
 * Runtime-level variables from a .env file (`--env-file`, else `.env` in the
 * daemon's cwd if there is one). The file holds secrets, so it must belong to
 * the daemon's user and be closed to group and others; otherwise the daemon
 * refuses to start and says how to fix it. Values live in memory only.
 */
export function loadEnvFile(configured: string | undefined): { path: string | null; env: Record<string, string> } {
  const path = resolve(configured ?? '.env');
  if (!existsSync(path)) {
    if (configured !== undefined) throw new StartupError(`env file ${path} does not exist; create it or drop --env-file`);
    return { path: null, env: {} };
  }
  const st = statSync(path);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isFile()) throw new StartupError(`env file ${path} is not a regular file`);
  if (st.uid !== uid) throw new StartupError(`env file ${path} belongs to uid ${st.uid}, not to this user; fix it with: chown ${uid} ${path}`);
  if ((st.mode & 0o077) !== 0) {
    throw new StartupError(`env file ${path} has mode ${(st.mode & 0o777).toString(8)}: group or others can read its secrets; fix it with: chmod 600 ${path}`);
  }
  return { path, env: parseEnv(readFileSync(path, 'utf8')) as Record<string, string> };
}
