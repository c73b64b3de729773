import { join } from 'node:path';

export const DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024;
export const SOCKET_FILE = 'trl.sock';

/** `$XDG_RUNTIME_DIR/trl/trl.sock`, else `/tmp/trl-<uid>/trl.sock` (DESIGN §5). */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRL_SOCKET_PATH) return env.TRL_SOCKET_PATH;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'trl', SOCKET_FILE);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join('/tmp', `trl-${uid}`, SOCKET_FILE);
}
