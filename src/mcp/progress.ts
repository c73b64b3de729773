import type { ServerContext } from '@modelcontextprotocol/server';

const TICK_MS = 1000;

/**
 * Progress notifications while a call waits, once a second, when the client
 * asked for them (a progressToken): a client that resets its request timeout
 * on progress then never gives up on a call that is still working.
 * `describe` says what is going on (bytes printed so far); stop() ends them
 * before the result is sent.
 */
export function startProgress(ctx: ServerContext, totalS: number, describe: () => Promise<string | undefined>): () => void {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return () => undefined;
  const started = Date.now();
  let stopped = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const elapsed = Math.round((Date.now() - started) / 100) / 10;
      const detail = await describe().catch(() => undefined);
      if (stopped) return;
      const message = `running for ${Math.round(elapsed)} s${detail ? `, ${detail}` : ''}`;
      await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: elapsed, total: totalS, message } });
    })()
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, TICK_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
