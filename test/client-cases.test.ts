/**
 * The shared behaviour cases (test/cases/client-cases.json) through the
 * TypeScript SDK: TrlClient over the Unix socket and TrlHttpClient over HTTP
 * with a token, against one real daemon. The Python client runs the same
 * table (test/python-sdk.test.ts), the CLI too (test/cli-cases.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import { TrlClient, TrlHttpClient } from '../src/index.js';
import { TrlClientError } from '../src/client/client-error.js';
import { useHttpDaemon } from './helpers/fixture.js';
import { loadCases, runCase, StepError, streamResult, type Result, type Runner } from './cases/runner.js';

type Sdk = TrlClient | TrlHttpClient;

/** A runner whose every step is one SDK call (streams read to their exit event). */
function sdkRunner(client: () => Sdk): Runner {
  const execute = async (method: string, params: Record<string, unknown>): Promise<Result> => {
    const c = client();
    try {
      if (method === 'exec.stream' || method === 'exec.attach') {
        const s = await c.stream(method, params);
        const events: Array<{ event: string; data?: unknown }> = [];
        for await (const ev of s.events) events.push(ev);
        return streamResult(events);
      }
      const data = await c.call(method, params);
      return (data ?? {}) as Result;
    } catch (err) {
      if (err instanceof TrlClientError) throw new StepError(err.code, `${err.code}: ${err.message}`);
      throw err;
    }
  };
  return {
    execute,
    createSession: async (params) => ((await client().call('session.create', params)) as { session_id: string }).session_id,
    destroySession: async (id) => {
      await client()
        .call('session.destroy', { session_id: id, force: true })
        .catch((err: unknown) => {
          if (!(err instanceof TrlClientError && err.code === 'SESSION_NOT_FOUND')) throw err;
        });
    },
  };
}

describe('shared behaviour cases through the TypeScript SDK', () => {
  const h = useHttpDaemon({ flags: ['--kill-grace-s', '1'] });
  let unix: TrlClient | undefined;
  let web: TrlHttpClient | undefined;
  before(async () => {
    unix = await TrlClient.connect({ socketPath: h.d.socketPath });
    web = await TrlHttpClient.connect({ url: h.url, token: h.token });
  });
  after(() => {
    unix?.close();
    web?.close();
  });

  const transports: Array<[string, () => Sdk]> = [
    ['TrlClient (Unix socket)', () => unix!],
    ['TrlHttpClient (HTTP)', () => web!],
  ];
  for (const [name, client] of transports) {
    // A few cases at a time: each has a workspace and a session of its own (test/cases/README.md).
    describe(name, { concurrency: 4 }, () => {
      for (const c of loadCases()) it(c.name, () => runCase(sdkRunner(client), c));
    });
  }
});
