/**
 * A byte-for-byte proxy in front of a daemon (Unix socket or TCP) whose
 * connections a test can cut, as a network blip or a restarted proxy would:
 * the client sees its connection break while the daemon sees a disconnect.
 */
import * as net from 'node:net';
import * as path from 'node:path';

export interface CutProxy {
  /** Where clients connect: a socket path, or a URL's `http://127.0.0.1:PORT`. */
  socketPath: string;
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Destroy every open connection, both sides. */
  cut(): void;
  close(): Promise<void>;
}

/** Listen on `<dir>/proxy.sock` (target a socket path) or on a free loopback port (target a port). */
export function startCutProxy(target: { path: string } | { port: number }, dir: string): Promise<CutProxy> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(target);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const socketPath = path.join(dir, 'proxy.sock');
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      const addr = server.address();
      resolve({
        socketPath,
        url: typeof addr === 'object' && addr !== null ? `http://127.0.0.1:${addr.port}` : '',
        accepted: () => accepted,
        cut: () => {
          for (const s of open) s.destroy();
          open.clear();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      });
    };
    if ('path' in target) server.listen(socketPath, ready);
    else server.listen(0, '127.0.0.1', ready);
  });
}
