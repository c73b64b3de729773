import type Docker from 'dockerode';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { fail, type FileOpCode, FileOpError } from '../shared/files/file-op-error.js';
import { STANDARD_PATH } from './container.js';
import { splitOutput } from './demux.js';
import { engineMessage } from './engine-errors.js';
import { FILES_SCRIPT } from './files-script.js';

/** The helper's whole environment: nothing of the image's that changes how sh runs it. */
const ENV = [`PATH=${STANDARD_PATH}`, 'LC_ALL=C', 'BASH_ENV=', 'ENV=', 'CDPATH='];
/** Characters the helper's request lines cannot carry in a path. */
const UNSAFE = /[\n\x1f]/;

export interface ScriptExec {
  /** The exec's stdin (null when not attached): write, then end() for EOF. */
  stdin: Duplex | null;
  stdout: Readable;
  stderr: Readable;
  /** Drop the connection (the helper then dies on its next write, or at its stdin's end). */
  kill(): void;
}

/** Start the files helper (files-script.ts) in a container, as the session's user. */
export async function execScript(container: Docker.Container, user: string, workspace: string, args: string[], withStdin: boolean): Promise<ScriptExec> {
  let sock: Duplex;
  try {
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', FILES_SCRIPT, 'trl-files', workspace, ...args],
      Env: ENV,
      User: user,
      WorkingDir: '/',
      AttachStdin: withStdin,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    sock = await exec.start({ hijack: true, stdin: withStdin, Detach: false, Tty: false });
  } catch (err) {
    throw fail('IO_ERROR', [], `the container did not run the files helper: ${engineMessage(err)}`);
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  sock.on('error', () => undefined);
  splitOutput(sock, stdout, stderr, { tty: false, marker: null });
  return { stdin: withStdin ? sock : null, stdout, stderr, kill: () => sock.destroy() };
}

/** A path for the helper's request lines: INVALID_PARAMS for a name it cannot carry. */
export function scriptPath(path: readonly string[]): string {
  const rel = path.join('/');
  if (UNSAFE.test(rel)) throw fail('INVALID_PARAMS', path, 'the docker tier cannot handle a name with a newline or \\x1f in it; rename it with a command');
  return rel;
}

/** Splits the helper's output into NUL-terminated fields, and fields into answers (ending with `e`). */
export class AnswerReader {
  private pending: Buffer[] = [];
  private fields: Buffer[] = [];

  /** The complete answers in `chunk` (with what came before). */
  push(chunk: Buffer): Buffer[][] {
    const answers: Buffer[][] = [];
    let from = 0;
    for (let nul = chunk.indexOf(0, from); nul !== -1; nul = chunk.indexOf(0, from)) {
      const part = chunk.subarray(from, nul);
      const field = this.pending.length > 0 ? Buffer.concat([...this.pending, part]) : Buffer.from(part);
      this.pending = [];
      from = nul + 1;
      if (field.length === 1 && field[0] === 0x65 /* e */) {
        answers.push(this.fields);
        this.fields = [];
      } else this.fields.push(field);
    }
    if (from < chunk.length) this.pending.push(Buffer.from(chunk.subarray(from)));
    return answers;
  }
}

/** An answer's values, or its failure thrown. */
export function answerValues(answer: Buffer[]): string[] {
  const failed = answer.find((f) => f[0] === 0x78 /* x */);
  if (failed) {
    const values = answer.slice(answer.indexOf(failed) + 1).map((f) => f.subarray(1).toString('utf8'));
    throw new FileOpError({ code: failed.subarray(1).toString('utf8') as FileOpCode, rel: values[0] ?? '', why: values[1] || undefined });
  }
  return answer.map((f) => f.subarray(1).toString('utf8'));
}

/** The first answer on a stream (a `get`'s header on stderr, a `write`'s outcome on stdout). */
export function firstAnswer(stream: Readable): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const reader = new AnswerReader();
    const onData = (chunk: Buffer) => {
      const [answer] = reader.push(chunk);
      if (!answer) return;
      cleanup();
      resolve(answer);
    };
    const onEnd = () => {
      cleanup();
      reject(fail('IO_ERROR', [], 'the files helper ended without an answer (is /bin/sh in the image?)'));
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}

/** `hexmode size mtime` of the helper's stat lines. */
export function parseMeta(text: string): { type: 'file' | 'dir' | 'symlink' | 'other'; mode: number; size: number; mtimeMs: number } {
  const [hex, size, mtime] = text.split(' ');
  const raw = parseInt(hex ?? '0', 16);
  const fmt = raw & 0o170000;
  const type = fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'symlink' : 'other';
  return { type, mode: raw & 0o7777, size: Number(size), mtimeMs: Number(mtime) * 1000 };
}
