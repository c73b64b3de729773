/**
 * Why a file operation of a tier failed, in the protocol's terms, without
 * the message: the runtime words it with the path as the client gave it.
 * Plain data, so it crosses the helper process's pipe and the docker
 * helper's status line unchanged.
 */
export const FILE_OP_CODES = [
  'PATH_OUTSIDE_WORKSPACE',
  'PATH_NOT_FOUND',
  'PATH_EXISTS',
  'NOT_A_FILE',
  'NOT_A_DIRECTORY',
  'FILE_TOO_LARGE',
  'FILE_CHANGED',
  'PERMISSION_DENIED',
  'INVALID_PARAMS',
  'IO_ERROR',
] as const;
export type FileOpCode = (typeof FILE_OP_CODES)[number];

export interface FileOpFailure {
  code: FileOpCode;
  /** Workspace-relative path (components joined by /, '' for the root) where it failed. */
  rel: string;
  /** A few words on what was found there (e.g. "a symlink to /etc"); no secret, no content. */
  why?: string | undefined;
  /** The errno name behind an IO_ERROR or PERMISSION_DENIED. */
  errno?: string | undefined;
}

export class FileOpError extends Error {
  readonly failure: FileOpFailure;

  constructor(failure: FileOpFailure) {
    super(`${failure.code} at '${failure.rel}'${failure.why ? `: ${failure.why}` : ''}`);
    this.name = 'FileOpError';
    this.failure = failure;
  }

  get code(): FileOpCode {
    return this.failure.code;
  }
}

export function fail(code: FileOpCode, rel: string | readonly string[], why?: string, errno?: string): FileOpError {
  return new FileOpError({ code, rel: typeof rel === 'string' ? rel : rel.join('/'), why, errno });
}

/** The protocol outcome of an errno met while operating on `rel`. */
export function fromErrno(err: unknown, rel: string | readonly string[]): FileOpError {
  if (err instanceof FileOpError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return fail('PATH_NOT_FOUND', rel);
    case 'EEXIST':
    case 'ENOTEMPTY':
      return fail('PATH_EXISTS', rel, code === 'ENOTEMPTY' ? 'a directory that is not empty' : undefined);
    case 'ENOTDIR':
      return fail('NOT_A_DIRECTORY', rel);
    case 'EISDIR':
      return fail('NOT_A_FILE', rel, 'a directory');
    case 'ELOOP':
      return fail('INVALID_PARAMS', rel, 'too many levels of symbolic links');
    case 'EACCES':
    case 'EPERM':
      return fail('PERMISSION_DENIED', rel, "the session's user lacks the permission", code);
    case 'EROFS':
      return fail('PERMISSION_DENIED', rel, 'read-only here (a path the tier protects)', code);
    case 'EBUSY':
      return fail('PERMISSION_DENIED', rel, 'a mount point the tier protects', code);
    case 'ENAMETOOLONG':
      return fail('INVALID_PARAMS', rel, 'a name or path too long for the filesystem');
    case 'EFBIG':
    case 'ENOSPC':
    case 'EDQUOT':
      return fail('FILE_TOO_LARGE', rel, code === 'EFBIG' ? 'larger than the filesystem allows' : 'no space left on the filesystem', code);
    default:
      return fail('IO_ERROR', rel, (err as Error)?.message?.slice(0, 200), code);
  }
}
