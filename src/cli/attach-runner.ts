import type { AnyTrlClient } from '../client/connect.js';
import type { StreamEvent } from '../protocol/envelope.js';
import { DetachKeys } from './detach-keys.js';
import type { CommandEnd } from './exit-status.js';
import { InputForwarder } from './input-forwarder.js';
import { reportError, warn } from './output.js';
import { dieOfHangup, onStopSignals } from './signal-proxy.js';
import { pipeEvents } from './stream-output.js';
import { enterRawMode, hasLocalTerminal, onTerminalResize, terminalSize, type TerminalSize } from './terminal.js';

export interface AttachOptions {
  client: AnyTrlClient;
  commandId: string;
  /** The open exec.stream / exec.attach events (base64). */
  events: AsyncIterable<StreamEvent>;
  /** Forward trl's stdin with exec.input (the command has stdin_open). */
  input: boolean;
  /** The command runs under a pseudo-terminal: raw local terminal (if stdin is one) and SIGWINCH → exec.resize. */
  pty: boolean;
  /** Size the remote terminal to the local one right away, if there is one (joining a command started elsewhere). */
  resizeNow?: boolean;
  /** Ctrl-P Ctrl-Q leaves the command running (only when stdin is a terminal). */
  detachKeys: boolean;
  /**
   * SIGINT/SIGTERM to trl: `forward` sends them to the command (the third one
   * makes trl give up waiting), `detach` leaves the command running. SIGHUP
   * (the terminal went away) is forwarded too in `forward` mode, then trl
   * dies of it; in `detach` mode trl just dies of it, leaving the command.
   */
  signals: 'forward' | 'detach';
  /** Sees the output as it is written (FullScreenGuard). */
  watch?: ((chunk: Buffer, stream: 'stdout' | 'stderr') => void) | undefined;
}

export type AttachOutcome =
  | { kind: 'exit'; end: CommandEnd }
  /** Left the command running: by the detach keys (no signal) or a signal to trl. */
  | { kind: 'detached'; signal?: NodeJS.Signals };

/** Signals forwarded before trl stops waiting for a command that ignores them. */
const FORWARDED_SIGNALS_BEFORE_GIVING_UP = 2;

/**
 * Be the local end of a running command: print its output live, feed it
 * trl's stdin, keep its terminal size in step, until it exits or the user
 * detaches. The local terminal is always restored.
 */
export async function runAttached(o: AttachOptions): Promise<AttachOutcome> {
  const cleanups: (() => void)[] = [];
  const cleanup = () => {
    for (const fn of cleanups.splice(0).reverse()) fn();
  };
  let leave!: (outcome: AttachOutcome) => void;
  const left = new Promise<AttachOutcome>((resolve) => (leave = resolve));
  try {
    if (o.pty) {
      const resize = (size: TerminalSize) => {
        o.client.call('exec.resize', { command_id: o.commandId, ...size }).catch(() => {
          // The command ended meanwhile; its exit event follows.
        });
      };
      cleanups.push(onTerminalResize(resize));
      // Without a local terminal there is no size to impose on the others attached.
      if (o.resizeNow && hasLocalTerminal()) resize(terminalSize());
    }

    if (o.input) {
      if (o.pty) cleanups.push(enterRawMode());
      const forwarder = new InputForwarder(o.client, o.commandId, {
        ...(o.detachKeys && process.stdin.isTTY ? { detachKeys: new DetachKeys() } : {}),
        onDetach: () => leave({ kind: 'detached' }),
        onError: (err) => void warnIfInputLost(o.client, o.commandId, err),
      });
      forwarder.start();
      cleanups.push(() => forwarder.stop());
    }

    let forwarded = 0;
    const sendSignal = (signal: NodeJS.Signals) =>
      o.client.call('exec.signal', { command_id: o.commandId, signal }).then(
        () => {},
        () => {}, // already gone; its exit event follows
      );
    cleanups.push(
      onStopSignals((signal) => {
        if (signal === 'SIGHUP') {
          // The terminal is probably gone: pass the hangup on (exec), then die of it, as a terminal program does.
          const passOn = o.signals === 'forward' ? Promise.race([sendSignal(signal), delay(1000)]) : Promise.resolve();
          void passOn.then(() => {
            cleanup();
            dieOfHangup();
          });
          return;
        }
        if (o.signals === 'detach' || forwarded >= FORWARDED_SIGNALS_BEFORE_GIVING_UP) {
          leave({ kind: 'detached', signal });
          return;
        }
        forwarded++;
        void sendSignal(signal);
      }),
    );

    const ended = pipeEvents(o.events, { watch: o.watch }).then((end): AttachOutcome => ({ kind: 'exit', end }));
    ended.catch(() => {}); // after a detach, the closing connection must not count as unhandled
    return await Promise.race([ended, left]);
  } finally {
    cleanup();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A failed exec.input matters only if the command still waits for input. */
async function warnIfInputLost(client: AnyTrlClient, commandId: string, err: unknown): Promise<void> {
  try {
    const info = await client.call('exec.info', { command_id: commandId });
    if (info.state !== 'running' || !info.stdin_open) return;
  } catch {
    return;
  }
  warn('input could no longer be sent to the command:');
  reportError(err);
}
