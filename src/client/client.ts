import { connect, type Socket } from 'node:net';
import { defaultSocketPath } from '../protocol/transport.js';
import { LineReader } from '../protocol/line-reader.js';
import { TrlErrors } from './client-error.js';
import { noDaemonHint } from './no-daemon-hint.js';
import { MessageRouter, RoutedClient, type OpenStream } from './message-router.js';

export type { OpenStream };

/** The largest buffer a client keeps to join answers split over reads. */
const KEEP_JOIN_BYTES = 16 * 1024 * 1024;
export type { CallOptions } from './message-router.js';

export interface ClientOptions {
  /** Unix socket path; default: the daemon's default socket. */
  socketPath?: string;
}

/**
 * A connection to a trl daemon over its Unix socket. Requests are pipelined
 * and matched to responses by id, so many calls may be in flight at once.
 */
export class TrlClient extends RoutedClient {
  private readonly socket: Socket;
  private readonly lines: LineReader;
  protected readonly router: MessageRouter;

  private constructor(
    socket: Socket,
    private readonly options: ClientOptions,
  ) {
    super();
    this.socket = socket;
    // A byte stream: exec.run and exec.wait take their output as raw bytes after the answer (raw_output).
    this.router = new MessageRouter((message) => socket.write(message + '\n'), true);
    // No size cap on what the daemon sends: it is trusted, and a result may be large.
    // Large answers are joined in one buffer kept for the next (see LineReader): up to
    // 16 MiB, what the default output caps (4 MiB per stream) give at most in practice.
    this.lines = new LineReader(
      Number.MAX_SAFE_INTEGER,
      (line) => {
        const attached = this.router.receive(line);
        if (attached !== undefined) this.lines.attach(attached);
      },
      () => undefined,
      KEEP_JOIN_BYTES,
      (bytes) => this.router.receiveAttached(bytes),
    );
    socket.on('data', (chunk: Buffer) => this.lines.push(chunk));
    socket.on('close', () => this.router.failAll('the connection to the trl daemon closed'));
    socket.on('error', (err) => this.router.failAll(`connection error: ${err.message}`));
  }

  static connect(options: ClientOptions = {}): Promise<TrlClient> {
    const path = options.socketPath ?? defaultSocketPath();
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const onError = (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? noDaemonHint(path) : `cannot connect to ${path}: ${err.message}`;
        reject(new TrlErrors.CONNECTION_CLOSED(hint));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new TrlClient(socket, { ...options, socketPath: path }));
      });
    });
  }

  protected reconnect(): Promise<TrlClient> {
    return TrlClient.connect(this.options);
  }

  close(): void {
    this.closedByUser = true;
    this.socket.end();
    this.socket.destroy();
  }
}
