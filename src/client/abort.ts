/** What an aborted operation rejects with: the signal's reason (an `AbortError` DOMException unless the caller gave one), as fetch does. */
export function abortReason(signal: AbortSignal): Error {
  // Whatever the caller passed to abort(): an Error in practice, passed on unchanged as fetch does.
  return (signal.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * `promise`, or a rejection with the signal's reason as soon as it aborts;
 * `onAbort` runs once on abort (to drop a pending request, close a response).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort?.();
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: Error) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}
