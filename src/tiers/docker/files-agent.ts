import type Docker from 'dockerode';
import { fail, FileOpError } from '../shared/files/file-op-error.js';
import { AnswerReader, execScript, type ScriptExec } from './files-exec.js';

/** An agent nobody asked anything for this long is stopped (started again when needed). */
const IDLE_MS = 60_000;

/** The helper stopped answering in time and was stopped. */
export class AgentTimeout extends Error {
  constructor(readonly ms: number) {
    super(`the files helper did not answer within ${ms} ms and was stopped`);
    this.name = 'AgentTimeout';
  }
}

interface Waiting {
  resolve: (answer: Buffer[]) => void;
  reject: (err: Error) => void;
}

/**
 * One long-lived files helper exec (files-script.ts, agent mode): request
 * lines on its stdin, answers in the same order on its stdout — one exec
 * for many operations, so each costs a line, not an exec. Started on first
 * use; a request not answered in time stops it (and fails what else waited).
 */
export class FilesAgent {
  private exec: Promise<ScriptExec> | null = null;
  private readonly waiting: Waiting[] = [];
  private idle: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly container: Docker.Container,
    private readonly user: string,
    private readonly workspace: string,
  ) {}

  /** Send one request (fields joined by \x1f); resolves with its answer's fields. */
  async request(fields: string[], timeoutMs?: number): Promise<Buffer[]> {
    if (this.closed) throw fail('IO_ERROR', [], 'the session is ending');
    const started = (this.exec ??= this.start());
    const exec = await started;
    return new Promise<Buffer[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      this.waiting.push({
        resolve: (a) => {
          if (timer) clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      });
      if (timeoutMs !== undefined) timer = setTimeout(() => this.stop(new AgentTimeout(timeoutMs)), timeoutMs);
      exec.stdin!.write(fields.join('\x1f') + '\n');
      this.touch();
    });
  }

  /** Stop the helper; whatever waits fails with `why`. */
  stop(why: Error = fail('IO_ERROR', [], 'the files helper was stopped')): void {
    const exec = this.exec;
    this.exec = null;
    void exec?.then(
      (e) => e.kill(),
      () => undefined,
    );
    for (const w of this.waiting.splice(0)) w.reject(why);
  }

  close(): void {
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    this.stop();
  }

  private touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.waiting.length === 0) this.stop();
    }, IDLE_MS);
    this.idle.unref();
  }

  private async start(): Promise<ScriptExec> {
    let exec: ScriptExec;
    try {
      exec = await execScript(this.container, this.user, this.workspace, ['agent'], true);
    } catch (err) {
      this.exec = null;
      throw err;
    }
    const reader = new AnswerReader();
    exec.stdout.on('data', (chunk: Buffer) => {
      for (const answer of reader.push(chunk)) this.waiting.shift()?.resolve(answer);
    });
    exec.stderr.resume();
    const gone = () => {
      if (this.exec === mine) this.stop(new FileOpError({ code: 'IO_ERROR', rel: '', why: 'the files helper in the container ended' }));
    };
    exec.stdout.once('end', gone);
    exec.stdout.once('close', gone);
    const mine = this.exec;
    return exec;
  }
}
