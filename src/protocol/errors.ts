/** Error codes of the wire protocol: each is thrown somewhere (a code for an unbuilt feature comes with it). */
export const ERROR_CODES = [
  'INVALID_PARAMS',
  'METHOD_NOT_FOUND',
  'REQUEST_TOO_LARGE',
  'AUTH_FAILED',
  'SESSION_NOT_FOUND',
  'SESSION_BUSY',
  'SESSION_LIMIT_EXCEEDED',
  'MAX_SESSIONS_REACHED',
  'RESOURCE_PRESSURE',
  'COMMAND_NOT_FOUND',
  'COMMAND_TIMEOUT',
  'COMMAND_FAILED',
  'SPAWN_FAILED',
  'RUNTIME_UNAVAILABLE',
  'PATH_OUTSIDE_WORKSPACE',
  'PATH_NOT_FOUND',
  'PATH_EXISTS',
  'NOT_A_FILE',
  'NOT_A_DIRECTORY',
  'FILE_TOO_LARGE',
  'FILE_CHANGED',
  'PERMISSION_DENIED',
  'SHUTTING_DOWN',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What each code means (PROTOCOL §3); a complete record, so a new code must be described. */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  INVALID_PARAMS: 'missing, malformed or unknown parameter; bad JSON; a path or env name that cannot be valid',
  METHOD_NOT_FOUND: 'no such method',
  REQUEST_TOO_LARGE: 'request line over the limit (the connection is then closed)',
  AUTH_FAILED: 'missing or wrong bearer token (HTTP: status 401)',
  SESSION_NOT_FOUND: 'no live session with this id',
  SESSION_BUSY: "the session's foreground slot is taken by another `exec.run`/`exec.stream`",
  SESSION_LIMIT_EXCEEDED: 'the session hit its max-commands cap',
  MAX_SESSIONS_REACHED: '`max_sessions` live sessions already exist',
  RESOURCE_PRESSURE: 'the daemon refuses new work to protect itself (file descriptors, memory, max concurrent commands)',
  COMMAND_NOT_FOUND: 'no command with this id (or it has been forgotten after its retention time)',
  COMMAND_TIMEOUT:
    '`exec.wait`: its own wait timed out while the command still runs (a command that hits its own timeout is a result with `timed_out: true`); under `--compat claw-core`, `exec.run` of a command its timeout killed (its result, output so far included, in `details.result`)',
  COMMAND_FAILED: 'only with `check: true`: the command exited non-zero (the result is in `details`)',
  SPAWN_FAILED: 'the shell or program could not be started (not found, not executable); nothing is left behind',
  RUNTIME_UNAVAILABLE: 'the requested isolation tier is not available or failed its health check',
  PATH_OUTSIDE_WORKSPACE: "a file path resolves (symlinks included) outside the session's workspace",
  PATH_NOT_FOUND: 'files API: no file or directory at this path',
  PATH_EXISTS: 'files API: something is already at this path (`overwrite` not given)',
  NOT_A_FILE: 'files API: the path is a directory or another non-regular file where a file is needed',
  NOT_A_DIRECTORY: 'files API: the path, or one of its parents, is not a directory',
  FILE_TOO_LARGE: 'files API: over the read or upload size limit (`max_read_bytes`, `max_upload_bytes`)',
  FILE_CHANGED: "files API: the file's content or mtime is not what `expect_hash`/`expect_mtime` said (it changed since it was read)",
  PERMISSION_DENIED: "files API: the session's user may not do this here (file permissions, or a path its tier keeps read-only)",
  SHUTTING_DOWN: 'the daemon is draining and accepts no new work',
  INTERNAL_ERROR: 'a bug; the message says what failed, never a secret',
};

export interface ErrorObject {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** An error that travels to the client as `{ok: false, error}`. The message is one actionable sentence. */
export class TrlError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'TrlError';
    this.code = code;
    this.details = details;
  }

  toObject(): ErrorObject {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }
}

export function isTrlError(e: unknown): e is TrlError {
  return e instanceof TrlError;
}
