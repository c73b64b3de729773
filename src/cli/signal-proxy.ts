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
