/**
 * How the MCP tools wait on a command (src/mcp/output-watch.ts), against a
 * real daemon: a wait for a text that never comes, on a command that keeps
 * printing, must not pile up long-polls on the MCP server's one connection
 * (past 256 unanswered requests the daemon stops reading it, and every tool
 * call of that client stalls).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrlCaller } from '../src/mcp/caller.js';
import { waitOnCommand } from '../src/mcp/output-watch.js';
import { useDaemon } from './helpers/fixture.js';

/** Requests a stale poll may leave open: about one second of looks 50 ms apart, plus the current look's. */
const MOST_OPEN = 30;

describe('waiting on a command for a text', () => {
  const { c } = useDaemon();

  it('keeps few requests open while a chatty command never prints the text', async (t) => {
    const { session_id } = await c.call('session.create', {});
    const { command_id } = await c.call('exec.start', { session_id, command: 'while :; do echo tick; sleep 0.05; done' });
    let open = 0;
    let most = 0;
    let looks = 0;
    const counting = {
      async call(method: string, params: unknown) {
        if (method === 'exec.info') looks++;
        open++;
        most = Math.max(most, open);
        try {
          return await (c.call as (m: string, p: unknown) => Promise<unknown>)(method, params);
        } finally {
          open--;
        }
      },
    } as TrlCaller;
    try {
      const end = await waitOnCommand(counting, command_id, { yieldMs: 12_000, waitFor: 'never printed', from: { stdout: 0, stderr: 0 }, signal: new AbortController().signal });
      assert.equal(end, 'yield');
      t.diagnostic(`${most} requests open at most, ${looks} looks`);
      // Enough looks that every one leaving a poll open for the rest of the wait would have gone past the bound.
      assert.ok(looks > MOST_OPEN, `only ${looks} looks at the command: too few to tell`);
      assert.ok(most <= MOST_OPEN, `${most} requests were open at once (${looks} looks)`);
    } finally {
      await c.call('session.destroy', { session_id, force: true });
    }
  });
});
