import { spawn } from 'node:child_process';

/** What a baseline spawns: a program, its arguments, and where and with what environment it runs. */
export interface SpawnSpec {
  file: string;
  args: readonly string[];
  opts?: { cwd?: string; env?: Record<string, string> };
  /** Collect its stdout and decode it to a string, which must have this length (what a client of the output ends up with). */
  stdoutChars?: number;
}

/**
 * A baseline of docs/benchmarks.md: a program spawned from Node with stdio pipes,
 * awaited to 'close' (exit and every pipe drained); rejects with the tail of
 * its stderr unless it exits 0, and, when the spec asks for its output, unless
 * its stdout decoded to a string has the length asked.
 */
export function spawnBaseline(spec: SpawnSpec): Promise<void> {
  const { file, args, stdoutChars } = spec;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...spec.opts, stdio: 'pipe' });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-2048)));
    const chunks: Buffer[] = [];
    if (stdoutChars === undefined) child.stdout.resume();
    else child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const chars = stdoutChars === undefined ? undefined : Buffer.concat(chunks).toString('utf8').length;
      if (code !== 0) reject(new Error(`baseline ${[file, ...args].join(' ')} ended with code ${code} signal ${signal}: ${stderr.trim()}`));
      else if (chars !== stdoutChars) reject(new Error(`baseline ${file} printed ${chars} characters, expected ${stdoutChars}`));
      else resolve();
    });
  });
}

/** The host baseline: a bare `/bin/sh -c true`. */
export const SH_TRUE: SpawnSpec = { file: '/bin/sh', args: ['-c', 'true'] };
