/**
 * Reading a caught value, which TypeScript types as `unknown`: anything can be
 * thrown, and a library may reject with a string or a plain object.
 */

/** The caught value as an Error (a non-Error becomes one with its text as the message). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The caught value's message: an Error's own, else its text. */
export function errorMessage(err: unknown): string {
  return asError(err).message;
}

/** The errno code of a system call's failure (`ENOENT`, `EACCES`, …), if the value carries one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
