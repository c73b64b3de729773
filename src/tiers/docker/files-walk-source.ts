import { FileOpError } from '../shared/files/file-op-error.js';
import type { SourceEntry, WalkSource } from '../shared/files/walk-engine.js';
import { answerValues, parseMeta, scriptPath } from './files-exec.js';
import type { FilesAgent } from './files-agent.js';
import { tarFiles } from './tar-entries.js';

/** A walk over the docker helper (files-script.ts): one request per directory listed or file read. */
export class AgentWalkSource implements WalkSource {
  /** Contents fetched ahead by prefetch(), taken by read(). */
  private readonly fetched = new Map<string, Buffer | 'large' | null>();

  constructor(private readonly agent: FilesAgent) {}

  /** One request for the files of one directory: their contents arrive as tar archives of six checked descriptors each. */
  async prefetch(files: string[][], maxBytes: number): Promise<void> {
    const dir = files[0]!.slice(0, -1);
    const names = files.map((f) => f[f.length - 1]!);
    let answer: Buffer[];
    try {
      answer = await this.agent.request(['B', scriptPath(dir), String(maxBytes), ...names.map((n) => scriptPath([n]))]);
    } catch (err) {
      if (err instanceof FileOpError) return;
      throw err;
    }
    const key = (name: string) => [...dir, name].join('/');
    let open = new Map<string, string>();
    for (let i = 1; i < answer.length; i++) {
      const f = answer[i]!;
      const text = f.subarray(1).toString('utf8');
      if (f[0] === 0x6f /* o */) open.set(text, answer[++i]!.subarray(1).toString('utf8'));
      else if (f[0] === 0x73 /* s */) this.fetched.set(key(text), null);
      else if (f[0] === 0x74 /* t */) {
        const archive = tarFiles(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
        for (const [fd, name] of open) {
          const data = archive.get(fd);
          this.fetched.set(key(name), data === undefined ? null : data.length > maxBytes ? 'large' : data);
        }
        open = new Map();
      }
    }
  }

  async start(path: string[]): Promise<{ rel: string[] } & SourceEntry> {
    const [, rel, meta] = answerValues(await this.agent.request(['T', scriptPath(path)]));
    const m = parseMeta(meta ?? '');
    const parts = (rel ?? '').split('/').filter((c) => c !== '');
    return { rel: parts, name: parts[parts.length - 1] ?? '', type: m.type, size: m.size, mtimeMs: m.mtimeMs };
  }

  async list(dir: string[]): Promise<SourceEntry[] | null> {
    let answer: Buffer[];
    try {
      answer = await this.agent.request(['L', scriptPath(dir)]);
    } catch (err) {
      if (err instanceof FileOpError) return null;
      throw err;
    }
    return parseListing(answer);
  }

  async read(file: string[], maxBytes: number): Promise<Buffer | 'large' | null> {
    const key = file.join('/');
    if (this.fetched.has(key)) {
      const data = this.fetched.get(key)!;
      this.fetched.delete(key);
      return data;
    }
    let values: string[];
    try {
      values = answerValues(await this.agent.request(['R', scriptPath(file), '0', '0', String(maxBytes + 1), String(maxBytes)]));
    } catch (err) {
      if (err instanceof FileOpError) return null;
      throw err;
    }
    const m = parseMeta(values[1] ?? '');
    if (m.size > maxBytes) return 'large';
    const data = Buffer.from((values[3] ?? '').replace(/\s+/g, ''), 'base64');
    return data.length > maxBytes ? 'large' : data;
  }
}

/** The fields of an `L` answer: `v<meta> ./name` entries, `l<name>` `v<target>` for links, `n<name>` for names it cannot stat. */
export function parseListing(answer: Buffer[]): SourceEntry[] | null {
  const first = answer[0]?.toString('utf8');
  if (first === 'vNODIR') return null;
  if (first !== 'vOK') answerValues(answer);
  const entries = new Map<string, SourceEntry>();
  for (let i = 1; i < answer.length; i++) {
    const f = answer[i]!;
    const tag = f[0];
    const text = f.subarray(1).toString('utf8');
    if (tag === 0x76 /* v */) {
      const sp1 = text.indexOf(' ');
      const sp2 = text.indexOf(' ', sp1 + 1);
      const sp3 = text.indexOf(' ', sp2 + 1);
      if (sp3 === -1) continue;
      const name = text.slice(sp3 + 1).replace(/^\.\//, '');
      entries.set(name, { name, ...parseMeta(text.slice(0, sp3)) });
    } else if (tag === 0x6c /* l */) {
      const target = answer[++i]?.subarray(1).toString('utf8');
      const e = entries.get(text);
      if (e && target !== undefined) e.target = target;
    } else if (tag === 0x6e /* n */) {
      entries.set(text, { name: text, type: 'other', size: 0, mtimeMs: 0 });
    }
  }
  return [...entries.values()].map(({ name, type, size, mtimeMs, target }) => ({ name, type, size, mtimeMs, ...(target !== undefined ? { target } : {}) }));
}
