import type Docker from 'dockerode';
import type { EngineEvents } from './engine-events.js';
import { settledWithin } from '../shared/timers.js';

/**
 * Wait until the engine's event stream has caught up with the container:
 * start a trivial exec there and wait (at most `ms`) for the engine to
 * report its exit. A container's events come in order, so every OOM event
 * from before that exec has arrived by then. Used where nothing else orders
 * them: the inner path on an engine whose cgroups this daemon cannot read
 * (docs/docker-tier.md#remote-engines), once OOM events are coming in.
 */
export async function eventBarrier(container: Docker.Container, user: string, events: EngineEvents, ms: number): Promise<void> {
  try {
    const exec = await container.exec({ Cmd: ['/bin/sh', '-c', ':'], User: user, AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false });
    let off = () => undefined as unknown;
    const reported = new Promise<void>((resolve) => {
      off = events.onExecDie(exec.id, { died: () => resolve(), recheck: () => undefined });
    });
    try {
      await exec.start({ Detach: true, Tty: false });
      await settledWithin(reported, ms);
    } finally {
      off();
    }
  } catch {
    /* no exec could start (the container is at its pids limit, or gone): the count stands as it is */
  }
}
