import type { TrlClient } from '../../src/client/client.js';
import { timed } from '../lib/interleave.js';
import type { MetricContext } from './metric.js';

export type TierName = 'host' | 'sandbox' | 'docker';

/** What `system.info` says of one tier. */
export interface TierStatus {
  available: boolean;
  detail: string;
}

/** A metric run against a daemon configured with the isolation tiers. */
export interface TierContext extends MetricContext {
  /** The daemon's tiers as health-checked at its start. */
  tiers: Record<TierName, TierStatus>;
  instanceId: string;
  /** The daemon's default working directory: the workspace of every session the bench creates. */
  workspace: string;
  /** The daemon's runtime directory (the socket's), which it hides in every sandbox. */
  runtimeDir: string;
  /** Default image of docker sessions. */
  dockerImage: string;
}

export interface CreatedSession {
  sessionId: string;
  /** session.create's `isolation.detail`: sandbox_pid, container_id, image. */
  detail: Record<string, string>;
}

/** session.create on a tier, timed from the request to the response. */
export async function timedCreate(client: TrlClient, runtime: TierName): Promise<{ ms: number; session: CreatedSession }> {
  let session: CreatedSession | undefined;
  const ms = await timed(async () => {
    const r = await client.call('session.create', { runtime });
    session = { sessionId: r.session_id, detail: r.isolation.detail };
  });
  return { ms, session: session! };
}

export async function destroy(client: TrlClient, sessionId: string): Promise<number> {
  return timed(() => client.call('session.destroy', { session_id: sessionId }));
}

/**
 * session.create in a create + destroy loop; only the create is timed (like
 * the host row). `between` runs untimed after each destroy.
 */
export async function createLoop(
  client: TrlClient,
  runtime: TierName,
  opts: { warmup: number; samples: number; between?: () => Promise<void>; check?: (s: CreatedSession) => Promise<void> },
): Promise<{ createMs: number[]; destroyMs: number[] }> {
  const createMs: number[] = [];
  const destroyMs: number[] = [];
  for (let i = 0; i < opts.warmup + opts.samples; i++) {
    await opts.between?.();
    const { ms, session } = await timedCreate(client, runtime);
    try {
      await opts.check?.(session);
    } finally {
      const d = await destroy(client, session.sessionId);
      if (i >= opts.warmup) {
        createMs.push(ms);
        destroyMs.push(d);
      }
    }
  }
  return { createMs, destroyMs };
}

/** A session on a tier, running `true` through exec.run. */
export async function openTierSession(client: TrlClient, runtime: TierName): Promise<CreatedSession & { runTrue(): Promise<void>; close(): Promise<void> }> {
  const { session } = await timedCreate(client, runtime);
  return {
    ...session,
    async runTrue() {
      const r = await client.call('exec.run', { session_id: session.sessionId, command: 'true' });
      if (r.exit_code !== 0) throw new Error(`exec.run of true in a ${runtime} session exited ${r.exit_code} (signal ${r.signal}): ${r.stderr}`);
    },
    async close() {
      await client.call('session.destroy', { session_id: session.sessionId });
    },
  };
}
