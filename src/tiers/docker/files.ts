import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FileStat, ReadRequest, ReadResult, TierFiles, WalkQuery, WalkResult, WatchSink, Watcher, WriteRequest, WriteResult } from '../tier-files.js';
import { fail } from '../shared/files/file-op-error.js';
import { AgentTimeout, FilesAgent } from './files-agent.js';
import { answerValues, execScript, firstAnswer, parseMeta, scriptPath } from './files-exec.js';
import { pollWatch } from './files-watch.js';
import { AgentWalkSource } from './files-walk-source.js';
import { walkInWorker } from './files-walk.js';

/**
 * The files of a docker session, through the container itself: the files
 * helper (files-script.ts) runs in it as the session's user, so nothing
 * here needs the workspace's bind mount — the same code serves an engine
 * on another machine. Quick operations share one long-lived helper, walks
 * another (each walk in a worker thread here), and a write or a download
 * is an exec of its own that carries the bytes on its stdin or stdout.
 */
export class DockerFiles implements TierFiles {
  private readonly quick: FilesAgent;
  private readonly walker: FilesAgent;
  private readonly watches = new Set<() => void>();

  constructor(
    private readonly container: Docker.Container,
    private readonly user: string,
    private readonly workspace: string,
    private readonly opTimeoutMs: number,
  ) {
    this.quick = new FilesAgent(container, user, workspace);
    this.walker = new FilesAgent(container, user, workspace);
  }

  async stat(path: string[], follow: boolean): Promise<FileStat> {
    const [, meta, target] = await this.ask(['S', scriptPath(path), follow ? '1' : '0']);
    const m = parseMeta(meta ?? '');
    return { type: m.type, size: m.size, mode: m.mode, mtimeMs: m.mtimeMs, ...(m.type === 'symlink' && target !== undefined ? { target } : {}) };
  }

  async read(path: string[], req: ReadRequest): Promise<ReadResult> {
    const [, meta, whole, content] = await this.ask(['R', scriptPath(path), '1', String(req.offset), String(req.length), String(req.wholeUpTo)]);
    const m = parseMeta(meta ?? '');
    const stat: FileStat = { type: m.type, size: m.size, mode: m.mode, mtimeMs: m.mtimeMs };
    const data = Buffer.from((content ?? '').replace(/\s+/g, ''), 'base64');
    if (whole === '1' && data.length <= req.wholeUpTo) return { stat, data, whole: true };
    // Grown past the bound while being read: the range of it.
    return { stat, data: whole === '1' ? data.subarray(req.offset, req.offset + req.length) : data, whole: false };
  }

  async readStream(path: string[], offset: number, length: number | null): Promise<{ stat: FileStat; stream: Readable }> {
    const exec = await execScript(this.container, this.user, this.workspace, ['get', scriptPath(path), String(offset), length === null ? '' : String(length)], false);
    try {
      const [, meta] = answerValues(await firstAnswer(exec.stderr));
      const m = parseMeta(meta ?? '');
      exec.stderr.resume();
      exec.stdout.once('close', () => exec.kill());
      return { stat: { type: m.type, size: m.size, mode: m.mode, mtimeMs: m.mtimeMs }, stream: exec.stdout };
    } catch (err) {
      exec.kill();
      throw err;
    }
  }

  async write(path: string[], content: Buffer | Readable, req: WriteRequest): Promise<WriteResult> {
    const size = Buffer.isBuffer(content) ? content.length : req.size;
    if (size === undefined) throw fail('INVALID_PARAMS', path, 'the docker tier needs the size of streamed content (a Content-Length)');
    const args = ['write', scriptPath(path), req.overwrite ? '1' : '0', req.mode.toString(8), req.makeParents ? '1' : '0', req.expectSha256 ?? '', randomBytes(8).toString('hex'), String(size)];
    const exec = await execScript(this.container, this.user, this.workspace, args, true);
    exec.stderr.resume();
    const answered = firstAnswer(exec.stdout);
    const stdin = exec.stdin!;
    try {
      if (Buffer.isBuffer(content)) stdin.write(content);
      else {
        for await (const chunk of content) {
          if (!stdin.write(chunk as Buffer)) await new Promise((r) => stdin.once('drain', r));
        }
      }
      stdin.end();
    } catch (err) {
      // The content broke off: the helper sees fewer bytes than announced and writes nothing.
      stdin.end();
      await answered.catch(() => undefined);
      exec.kill();
      throw err;
    }
    try {
      const [, created, mode] = answerValues(await answered);
      return { created: created === '1', size, mode: parseInt(mode ?? '644', 8) };
    } finally {
      exec.kill();
    }
  }

  async mkdir(path: string[], parents: boolean, mode: number): Promise<{ created: boolean }> {
    const [, created] = await this.ask(['K', scriptPath(path), parents ? '1' : '0', mode.toString(8)]);
    return { created: created === '1' };
  }

  async remove(path: string[], recursive: boolean): Promise<{ removed: number }> {
    // A whole tree may take long: not on the quick helper, and not bound by its time.
    const agent = recursive ? this.walker : this.quick;
    const [, removed] = answerValues(await agent.request(['D', scriptPath(path), recursive ? '1' : '0'], recursive ? undefined : this.opTimeoutMs));
    return { removed: Number(removed) };
  }

  async move(from: string[], to: string[], overwrite: boolean, makeParents: boolean): Promise<void> {
    await this.ask(['V', scriptPath(from), scriptPath(to), overwrite ? '1' : '0', makeParents ? '1' : '0']);
  }

  walk(query: WalkQuery): Promise<WalkResult> {
    scriptPath(query.start);
    return walkInWorker(query, new AgentWalkSource(this.walker), () => this.walker.stop());
  }

  async watch(path: string[], recursive: boolean, sink: WatchSink): Promise<Watcher> {
    const agent = new FilesAgent(this.container, this.user, this.workspace);
    const stop = await pollWatch(new AgentWalkSource(agent), path, recursive, {
      change: (e) => sink.change(e),
      ended: (reason) => {
        this.watches.delete(stop);
        agent.close();
        sink.ended(reason);
      },
    });
    const close = () => {
      this.watches.delete(close);
      stop();
      agent.close();
    };
    this.watches.add(close);
    return { close };
  }

  async close(): Promise<void> {
    this.quick.close();
    this.walker.close();
    for (const stop of [...this.watches]) stop();
  }

  private async ask(fields: string[]): Promise<string[]> {
    try {
      return answerValues(await this.quick.request(fields, this.opTimeoutMs));
    } catch (err) {
      if (err instanceof AgentTimeout) throw fail('IO_ERROR', [], `the files helper did not answer within ${err.ms} ms`);
      throw err;
    }
  }
}
