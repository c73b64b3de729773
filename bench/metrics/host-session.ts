import { TrlClient } from '../../src/client/client.js';

/** A client with its own host session, running `true` through exec.run. */
export interface HostSession {
  client: TrlClient;
  sessionId: string;
  runTrue(): Promise<void>;
  close(): Promise<void>;
}

export async function openHostSession(socketPath: string): Promise<HostSession> {
  const client = await TrlClient.connect({ socketPath });
  const { session_id: sessionId } = await client.call('session.create', {});
  return {
    client,
    sessionId,
    async runTrue() {
      const r = await client.call('exec.run', { session_id: sessionId, command: 'true' });
      if (r.exit_code !== 0) throw new Error(`exec.run of true exited ${r.exit_code} (signal ${r.signal}): ${r.stderr}`);
    },
    async close() {
      try {
        await client.call('session.destroy', { session_id: sessionId });
      } finally {
        client.close();
      }
    },
  };
}
