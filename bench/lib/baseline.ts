import { spawn, type SpawnOptions } from 'node:child_process';

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
export function spawnTrue(): Promise<void> {
  return spawnBaseline('/bin/sh', ['-c', 'true']);
}
