import { randomBytes } from 'node:crypto';

/**
 * A daemon instance id: 16 random hex digits, then the daemon's pid as 8 hex
 * digits. Everything the instance leaves behind (cgroup directories, process
 * tags, FIFO directories) carries the id, so a later daemon can tell whether
 * its owner still lives — whatever socket either of them used.
 */
export function newInstanceId(pid: number = process.pid): string {
  return randomBytes(8).toString('hex') + pid.toString(16).padStart(8, '0');
}

/**
 * The id of a daemon alone in a container (`cgroups: container`): 32 random
 * hex digits and no pid. Its pids are of the container's pid namespace, and a
 * daemon outside (which sees the container's processes in its own /proc)
 * would read one as a pid of its own, find that process dead or not a trl,
 * and kill the commands tagged with the id as a dead instance's leftovers.
 * Nothing outside judges this id; the container is the unit of cleanup.
 */
export function newContainedInstanceId(): string {
  return randomBytes(16).toString('hex');
}

/** The pid an instance id names; null for ids of another form. */
export function pidOfInstance(id: string): number | null {
  if (!/^[0-9a-f]{24}$/.test(id)) return null;
  return parseInt(id.slice(16), 16);
}
