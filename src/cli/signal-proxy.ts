/** The signals that would end trl itself while it is attached to a command. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

/** Handle SIGINT, SIGTERM and SIGHUP with `fn` instead of dying; returns the function that puts the default back. */
export function onStopSignals(fn: (signal: NodeJS.Signals) => void): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => fn(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

/**
 * End trl the way a hangup would have without a handler. After the terminal
 * went away, this is the only clean way out: Node's normal exit tries to
 * reset the (now dead) terminal and aborts on the EIO it gets.
 */
export function dieOfHangup(): never {
  process.removeAllListeners('SIGHUP');
  process.kill(process.pid, 'SIGHUP');
  // The signal is delivered asynchronously; in case it is blocked or ignored, leave anyway.
  process.exit(128 + 1);
}
