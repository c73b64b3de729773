import { spawn, type SpawnOptions } from 'node:child_process';

/** What a baseline spawns: a program, its arguments, and where and with what environment it runs. */
export interface SpawnSpec {
  file: string;
  args: readonly string[];
  opts?: { cwd?: string; env?: Record<string, string> };
  /** Collect its stdout and decode it to a string, which must have this length (what a client of the output ends up with). */
  stdoutChars?: number;
}

/** Spawn `spec` as a baseline: spawnBaseline, or spawnCollecting when it asks for its output. */
export function spawnSpec(spec: SpawnSpec): Promise<void> {
  return spec.stdoutChars === undefined ? spawnBaseline(spec.file, spec.args, spec.opts) : spawnCollecting(spec.file, spec.args, spec.stdoutChars);
}

/** A spawn whose stdout is collected and decoded to a string of `chars` characters, else rejected. */
export function spawnCollecting(file: string, args: readonly string[], chars: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => chunks.push(d));
    c.stderr.resume();
    c.on('error', reject);
    c.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.length !== chars) reject(new Error(`the bare spawn of ${file} collected ${text.length} characters, expected ${chars}`));
      else resolve();
    });
  });
}

/**
 * A baseline of docs/benchmarks.md: a program spawned from Node with stdio pipes,
 * awaited to 'close' (exit and every pipe drained); rejects with the tail of
 * its stderr unless it exits 0.
 */
export function spawnBaseline(file: string, args: readonly string[], opts: SpawnOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...opts, stdio: 'pipe' });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-2048)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`baseline ${[file, ...args].join(' ')} ended with code ${code} signal ${signal}: ${stderr.trim()}`));
    });
  });
}

/** The host baseline: a bare `/bin/sh -c true`. */
export const SH_TRUE: SpawnSpec = { file: '/bin/sh', args: ['-c', 'true'] };
