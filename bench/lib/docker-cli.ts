import { execFile } from 'node:child_process';
import type { SpawnSpec } from './baseline.js';
import { errnoCode } from '../../src/tiers/shared/thrown.js';

/**
 * The docker CLI, for the docker tier's baseline (docs/benchmarks.md: `docker exec`
 * through the CLI) and for looking at the daemon's containers from outside.
 * It talks to the same engine as the daemon (the default socket or DOCKER_HOST).
 */
export function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** `docker exec <container> true`, with stdio pipes like the other baselines, awaited to 'close'. */
export function dockerExecTrue(container: string): SpawnSpec {
  return { file: 'docker', args: ['exec', container, 'true'] };
}

/** Marks the bench's own containers (not the daemon's: those carry dev.trl.instance). */
export const BENCH_LABEL = 'dev.trl.bench';

/**
 * A container for the baseline, started from the same image and with what
 * the daemon gives a session's container that matters to an exec: docker-init
 * as pid 1, a sleeping holder, no network, no capabilities, no-new-privileges,
 * the daemon's uid:gid. Removed by `remove()`.
 */
export async function startBaselineContainer(image: string): Promise<{ id: string; remove(): Promise<void> }> {
  await removeOrphans();
  const user = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const out = await docker([
    'run',
    '--detach',
    '--rm',
    '--init',
    '--network',
    'none',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--user',
    user,
    '--label',
    `${BENCH_LABEL}=${process.pid}`,
    '--entrypoint',
    'sleep',
    image,
    '2147483647',
  ]);
  const id = out.trim();
  if (!/^[0-9a-f]{12,64}$/.test(id)) throw new Error(`docker run printed no container id: ${out.slice(0, 200)}`);
  return { id, remove: () => docker(['rm', '--force', id]).then(() => undefined) };
}

/** Baseline containers of benches that died before removing them (their label names a pid that is gone). */
async function removeOrphans(): Promise<void> {
  const out = await docker(['ps', '--all', '--filter', `label=${BENCH_LABEL}`, '--format', `{{.ID}} {{.Label "${BENCH_LABEL}"}}`]);
  const orphans = out
    .split('\n')
    .map((l) => l.trim().split(' '))
    .flatMap(([id, pid]) => (id && !alive(Number(pid)) ? [id] : []));
  if (orphans.length > 0) await docker(['rm', '--force', ...orphans]);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** Ids (12 characters) of the running containers whose name contains `namePart`. */
export async function runningContainers(namePart: string): Promise<string[]> {
  const out = await docker(['ps', '--quiet', '--no-trunc', '--filter', 'status=running', '--filter', `name=${namePart}`]);
  return out
    .split('\n')
    .map((l) => l.trim().slice(0, 12))
    .filter(Boolean);
}
