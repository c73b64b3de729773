import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/config-schema.js';

export interface EmbeddedDaemon {
  socketPath: string;
  /** Resolves when the daemon has shut down (a signal, or shutdown()). */
  closed: Promise<void>;
  shutdown(reason: string): Promise<void>;
}

/**
 * A daemon inside the `trl mcp` process, for a machine where none runs: on a
 * socket of its own (a private directory), so that it is nobody else's and
 * ends with this process, killing what its sessions left.
 */
export async function startEmbeddedDaemon(config: Config): Promise<EmbeddedDaemon> {
  // Loaded here: `trl mcp` in front of a running daemon never carries the server's code.
  const [{ startDaemon }, { createLogger }] = await Promise.all([import('../server/daemon.js'), import('../server/logger.js')]);
  const log = createLogger(config.log_level, config.log_file);
  const dir = mkdtempSync(join(tmpdir(), 'trl-mcp-'));
  const socketPath = join(dir, 'trl.sock');
  let daemon;
  try {
    daemon = await startDaemon({ ...config, socket_path: socketPath, unix_socket: true }, log);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const closed = daemon.closed.then(
    () =>
      new Promise<void>((resolve) => {
        rmSync(dir, { recursive: true, force: true });
        log.flush(() => resolve());
      }),
  );
  return {
    socketPath,
    closed,
    shutdown: async (reason) => {
      await daemon.shutdown(reason);
      await closed;
    },
  };
}
