import { ERROR_CODES, type ErrorCode, type ErrorObject } from '../protocol/errors.js';

/** Every code a client error can carry: the protocol's, and CONNECTION_CLOSED for a transport that failed or closed. */
export type ClientErrorCode = ErrorCode | 'CONNECTION_CLOSED';

/**
 * A protocol error answered by the daemon, or a transport failure (code
 * CONNECTION_CLOSED). Errors from the clients are instances of the subclass
 * for their code, `TrlErrors[code]`, so both `err.code === 'SESSION_NOT_FOUND'`
 * and `err instanceof TrlErrors.SESSION_NOT_FOUND` work.
 */
export class TrlClientError<C extends ClientErrorCode = ClientErrorCode> extends Error {
  readonly code: C;
  readonly details: Record<string, unknown> | undefined;

  constructor(error: { code: C; message: string; details?: Record<string, unknown> | undefined }) {
    super(error.message);
    this.name = 'TrlClientError';
    this.code = error.code;
    this.details = error.details;
  }
}

/** The class of the errors with one code. */
export type TrlErrorClass<C extends ClientErrorCode> = new (message: string, details?: Record<string, unknown>) => TrlClientError<C>;

function subclassOf<C extends ClientErrorCode>(code: C): TrlErrorClass<C> {
  const cls = class extends TrlClientError<C> {
    constructor(message: string, details?: Record<string, unknown>) {
      super({ code, message, details });
    }
  };
  // SESSION_NOT_FOUND → SessionNotFoundError: what a stack trace and a debugger show.
  const name = code.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _sep: string, c: string) => c.toUpperCase()) + 'Error';
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

const CLIENT_ERROR_CODES: readonly ClientErrorCode[] = [...ERROR_CODES, 'CONNECTION_CLOSED'];

/** One subclass of TrlClientError per code, generated from the protocol's list of error codes. */
export const TrlErrors = Object.freeze(Object.fromEntries(CLIENT_ERROR_CODES.map((code) => [code, subclassOf(code)]))) as { readonly [C in ClientErrorCode]: TrlErrorClass<C> };

/** The error for an `{code, message, details}` the daemon answered (or a client-side failure), as the subclass of its code. */
export function clientError(error: ErrorObject | { code: ClientErrorCode; message: string; details?: Record<string, unknown> }): TrlClientError {
  const cls = Object.prototype.hasOwnProperty.call(TrlErrors, error.code) ? TrlErrors[error.code] : undefined;
  // A code this SDK does not know yet (a newer daemon) still arrives as a TrlClientError carrying it.
  return cls ? new cls(error.message, error.details) : new TrlClientError(error);
}

/** Whether `err` is a trl client error (with this code, when one is given); narrows `err.code`. */
export function isTrlClientError<C extends ClientErrorCode = ClientErrorCode>(err: unknown, code?: C): err is TrlClientError<C> {
  return err instanceof TrlClientError && (code === undefined || err.code === code);
}
