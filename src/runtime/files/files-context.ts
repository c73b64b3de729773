import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { TrlError, type ErrorCode } from '../../protocol/errors.js';
import { FileOpError } from '../../tiers/shared/files/file-op-error.js';
import type { TierFiles } from '../../tiers/tier-files.js';
import type { AuditEntry } from '../audit-log.js';
import type { EngineState } from '../engine-state.js';
import { redactText } from '../redactor.js';
import { secretsFor } from '../request-secrets.js';
import type { Session } from '../session.js';
import { isWithin } from '../workspace-policy.js';

/** A client's path inside the workspace: its components, and how to show it. */
export interface WorkspacePath {
  rel: string[];
  /** Absolute, lexically normalized, with the workspace as the client named it. */
  display: string;
  /** The workspace path it was matched against (the session's, or its real path). */
  base: string;
}

/** What one file verb works with: the session, its tier's files, and path handling. */
export interface FilesContext {
  st: EngineState;
  session: Session;
  files: TierFiles;
  /** The workspace-relative components of a client path, or PATH_OUTSIDE_WORKSPACE. */
  path(path: string | undefined, param?: string): WorkspacePath;
  /** A path below a resolved one, for results. */
  below(p: WorkspacePath, rel: string): string;
  /** Run a tier operation; its failure becomes the protocol's error, worded with the client's path. */
  run<T>(verb: string, p: WorkspacePath, op: () => Promise<T>): Promise<T>;
  /** One line of the audit log: path, size and hash, never content (paths redacted of the session's secrets). */
  audit(entry: AuditEntry & { path: string; to?: string }): void;
}

const realPaths = new WeakMap<Session, string>();

/** The workspace's own paths: as the session has it, and (host: it may be a symlink) its real path. */
function workspaceRoots(session: Session): string[] {
  let real = realPaths.get(session);
  if (real === undefined) {
    try {
      real = realpathSync(session.workspace);
    } catch {
      real = session.workspace;
    }
    realPaths.set(session, real);
  }
  return real === session.workspace ? [session.workspace] : [session.workspace, real];
}

export function filesContext(st: EngineState, sessionId: string): FilesContext {
  st.refuseWhenDraining();
  const session = st.getSession(sessionId);
  if (!session.tierSession) throw st.sessionNotFound(session.id);
  session.touch();
  const files = session.tierSession.files({ opTimeoutMs: st.config.fs_timeout_s * 1000 });
  const roots = workspaceRoots(session);
  const ctx: FilesContext = {
    st,
    session,
    files,
    path(path, param = 'path') {
      const given = path ?? '.';
      const abs = posix.normalize(given.startsWith('/') ? given : posix.join(session.cwd, given));
      for (const base of roots) {
        if (isWithin(abs, base)) {
          const rest = abs
            .slice(base.length)
            .split('/')
            .filter((c) => c !== '' && c !== '.');
          return { rel: rest, display: rest.length === 0 ? base : posix.join(base, ...rest), base };
        }
      }
      throw new TrlError(
        'PATH_OUTSIDE_WORKSPACE',
        `${param} '${given}' is ${given.startsWith('/') ? '' : `(from the cwd ${session.cwd}) `}${abs}, outside the session's workspace ${session.workspace}; use a path inside it`,
        { path: abs, workspace: session.workspace },
      );
    },
    below(p, rel) {
      return rel === '' ? p.display : posix.join(p.display, rel);
    },
    async run(verb, p, op) {
      try {
        return await op();
      } catch (err) {
        if (err instanceof FileOpError) throw protocolError(err, verb, p, session);
        throw err;
      }
    },
    audit(entry) {
      if (!st.audit) return;
      const secrets = secretsFor(st, { session_id: session.id });
      const clean = (text: string) => (secrets.length > 0 ? redactText(text, secrets) : text);
      st.audit.write({ ...entry, session_id: session.id, tier: session.runtime, path: clean(entry.path), ...(entry.to !== undefined ? { to: clean(entry.to) } : {}) });
    },
  };
  return ctx;
}

/** A tier's FileOpError as the client's error: the code, and a sentence with the path as the client sees it. */
export function protocolError(err: FileOpError, verb: string, p: WorkspacePath, session: Session): TrlError {
  const f = err.failure;
  const where = f.rel === '' ? p.base : posix.join(p.base, f.rel);
  const at = where === p.display ? `'${p.display}'` : `'${p.display}' ('${where}')`;
  const why = f.why ? ` (${f.why})` : '';
  const details = { path: p.display, ...(where !== p.display ? { at: where } : {}), ...(f.errno ? { errno: f.errno } : {}) };
  const make = (code: ErrorCode, message: string) => new TrlError(code, message, details);
  switch (f.code) {
    case 'PATH_OUTSIDE_WORKSPACE':
      return make(f.code, `cannot ${verb} ${at}: it resolves outside the session's workspace ${session.workspace}${why}; use a path inside it`);
    case 'PATH_NOT_FOUND':
      return make(f.code, `cannot ${verb} ${at}: no such file or directory${where !== p.display ? ` ('${where}' does not exist)` : ''}; check the path (fs.list shows what a directory holds)`);
    case 'PATH_EXISTS':
      return make(f.code, `cannot ${verb} ${at}: it already exists${why}; pass overwrite: true to replace it, or choose another path`);
    case 'NOT_A_FILE':
      return make(f.code, `cannot ${verb} ${at}: not a regular file${why}`);
    case 'NOT_A_DIRECTORY':
      return make(f.code, `cannot ${verb} ${at}: '${where}' is not a directory${why}`);
    case 'FILE_TOO_LARGE':
      return make(f.code, `cannot ${verb} ${at}: too large${why}`);
    case 'FILE_CHANGED':
      return make(f.code, `cannot ${verb} ${at}: it changed since it was read${why}; read it again and redo the change against what it holds now`);
    case 'PERMISSION_DENIED':
      return make(f.code, `cannot ${verb} ${at}: permission denied${why}`);
    case 'INVALID_PARAMS':
      return make(f.code, `cannot ${verb} ${at}${why}`);
    default:
      return make('INTERNAL_ERROR', `could not ${verb} ${at}${why}${f.errno ? ` [${f.errno}]` : ''}`);
  }
}

/** Permission bits as octal text, e.g. "0644". */
export function modeText(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

/** A file mode parameter (number or octal text) as a number. */
export function parseMode(mode: number | string | undefined, fallback: number): number {
  if (mode === undefined) return fallback;
  return typeof mode === 'number' ? mode : parseInt(mode, 8);
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
