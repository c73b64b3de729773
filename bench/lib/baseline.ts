import { spawn } from 'node:child_process';

/**
 * The physical baseline of DESIGN §8: a bare `/bin/sh -c true` from Node with
 * stdio pipes, awaited to 'close' (exit and every pipe drained).
 */
export function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'pipe' });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`baseline /bin/sh -c true ended with code ${code} signal ${signal}`));
    });
  });
}
