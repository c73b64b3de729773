import type { SpawnSpec } from './baseline.js';
import { which } from './which.js';

/**
 * The sandbox tier's second baseline: a bare `nsenter` into the live sandbox
 * of a session (its `sandbox_pid`), into the namespaces its commands join, at
 * its root, running what the host baseline runs (`/bin/sh -c true`), spawned
 * from Node like the other baselines. No capability drop, no user switch, no
 * seccomp filter: the floor of entering a running sandbox.
 */
export function nsenterBaseline(sandboxPid: number, network: boolean): SpawnSpec {
  const nsenter = which('nsenter');
  if (!nsenter) throw new Error('nsenter not found in PATH for the baseline (apt-get install util-linux)');
  const user = process.getuid?.() === 0 ? [] : ['-U', '--preserve-credentials'];
  const args = ['-t', String(sandboxPid), '-m', '-p', '-i', '-u', ...(network ? [] : ['-n']), ...user, '-r', '-w', '--', '/bin/sh', '-c', 'true'];
  return { file: nsenter, args, opts: { cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } } };
}
