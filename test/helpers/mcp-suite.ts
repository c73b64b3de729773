/**
 * The acceptance suite of `trl mcp` (issue 14), run by the official MCP
 * client SDK against one target: stdio or Streamable HTTP, 2025 or
 * 2026-07-28 protocol, host or sandbox tier. Each test asserts behaviour,
 * never how fast: waits are conditions with deadlines.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { JsonSchemaType } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { type TrlClient } from './client.js';
import { assertSleepsGone, findSleeps, killSleeps, procAlive, uniqueSleep } from './processes.js';
import { waitFor } from './wait.js';
import { textOf, type McpConnection } from './mcp.js';

export interface SuiteTarget {
  label: string;
  connect(): Promise<McpConnection>;
  /** A client of the daemon behind the MCP server, for checks. */
  daemon(): TrlClient;
  tier: 'host' | 'sandbox';
  /** Closing the client ends its trl sessions (stdio, and HTTP of the 2025 protocol). */
  endsWithClient: boolean;
  /** Why the target cannot be tested here, or null. */
  skipReason(): string | null;
}

const PYTHON = '/usr/bin/python3';
/** Enough lines of `seq` to pass 10 MiB (10,888,896 bytes). */
const SEQ_LINES = 1_500_000;
const DEFAULT_BUDGET_BYTES = 6000 * 4;

type Result = { content?: unknown; structuredContent?: any; isError?: boolean };

export function mcpSuite(target: SuiteTarget): void {
  // One test after the other: they share a connection, and the last one closes it.
  describe(target.label, { concurrency: 1 }, () => {
    let conn: McpConnection;
    let long: { id: string } | null = null;
    const sleeps: number[] = [];
    const call = async (name: string, args: Record<string, unknown>, options: Record<string, unknown> = {}): Promise<Result> =>
      (await conn.client.callTool({ name, arguments: args }, options)) as Result;
    const ok = async (name: string, args: Record<string, unknown>, options: Record<string, unknown> = {}) => {
      const r = await call(name, args, options);
      assert.notEqual(r.isError, true, `${name} ${JSON.stringify(args)} failed: ${textOf(r)}`);
      assert.ok(r.structuredContent, `${name} returned no structuredContent: ${textOf(r)}`);
      return r;
    };
    /** Wait (output calls, each a bounded wait) until the command has ended; its final view. */
    const ended = async (commandId: string, view: any) => {
      let v = view;
      for (let i = 0; v.running && i < 10; i++) v = (await ok('output', { command_id: commandId, yield_s: 20, max_output_tokens: 1000 })).structuredContent;
      assert.equal(v.running, false, `command ${commandId} still runs after 10 waits of 20 s`);
      return v;
    };
    const skip = (t: TestContext) => {
      const why = target.skipReason();
      if (why) t.skip(why);
      return why !== null;
    };

    before(async () => {
      if (target.skipReason()) return;
      conn = await target.connect();
    });
    after(async () => {
      const err = conn?.stderr() ?? '';
      if (err.length > 0) console.log(`# ${target.label}: trl mcp stderr:\n${err.replace(/^/gm, '#   ')}`);
      killSleeps(sleeps);
      await conn?.close().catch(() => undefined);
    });

    it('lists its tools, each with a valid input schema, an output schema and annotations', async (t) => {
      if (skip(t)) return;
      const { tools } = await conn.client.listTools();
      const names = tools.map((x) => x.name).sort();
      assert.deepEqual(names, ['input', 'list', 'output', 'run', 'stop']);
      assert.ok(tools.length <= 8, 'at most about eight tools');
      const ajv = new AjvJsonSchemaValidator();
      for (const tool of tools) {
        assert.equal(tool.inputSchema.type, 'object', `${tool.name}: input schema`);
        assert.equal(tool.outputSchema?.type, 'object', `${tool.name}: output schema`);
        // Compiling checks each schema against its meta-schema (it throws on an invalid one).
        ajv.getValidator(tool.inputSchema as JsonSchemaType);
        ajv.getValidator(tool.outputSchema as JsonSchemaType);
        assert.ok((tool.description ?? '').length > 40, `${tool.name}: a description a model can use`);
        const a = tool.annotations ?? {};
        for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint'] as const) assert.equal(typeof a[hint], 'boolean', `${tool.name}: ${hint}`);
      }
      const byName = Object.fromEntries(tools.map((x) => [x.name, x]));
      const accepts = (tool: string, args: unknown) => ajv.getValidator(byName[tool]!.inputSchema as JsonSchemaType)(args).valid;
      assert.equal(accepts('run', { command: 'ls', session: 'main', yield_s: 5 }), true);
      assert.equal(accepts('run', {}), false, 'run needs a command');
      assert.equal(accepts('run', { command: 'ls', cwd: '/' }), false, 'unknown keys are refused');
      assert.equal(accepts('output', { command_id: 'x', stdout_offset: 10 }), true);
      assert.equal(accepts('output', { command_id: 'x', stdout_offset: -1 }), false);
      assert.equal(byName.list!.annotations?.readOnlyHint, true);
      assert.equal(byName.output!.annotations?.readOnlyHint, true);
      assert.equal(byName.stop!.annotations?.destructiveHint, true);
    });

    it('a command that runs 70 s returns a handle within the yield', async (t) => {
      if (skip(t)) return;
      const r = await ok('run', { command: 'sleep 70; echo finished; exit 3', session: 'long', yield_s: 2 });
      const v = r.structuredContent;
      assert.equal(v.running, true);
      assert.equal(v.exit_code, null);
      assert.equal(typeof v.command_id, 'string');
      assert.match(textOf(r), new RegExp(`still running \\(command_id ${v.command_id}\\)`));
      long = { id: v.command_id };
    });

    it('keeps exact exit codes and stderr apart; cd and export persist in the session', async (t) => {
      if (skip(t)) return;
      const a = (await ok('run', { command: 'echo out; echo err >&2; exit 7' })).structuredContent;
      assert.equal(a.exit_code, 7);
      assert.equal(a.stdout, 'out\n');
      assert.equal(a.stderr, 'err\n');
      await ok('run', { command: 'mkdir -p mcp-sub && cd mcp-sub && export MCP_PERSIST="kept value"' });
      const b = await ok('run', { command: 'pwd; printf "%s\\n" "$MCP_PERSIST"' });
      assert.match(b.structuredContent.stdout, /\/mcp-sub\n\s*kept value\n$/);
      assert.match(b.structuredContent.cwd, /\/mcp-sub$/);
      assert.match(textOf(b), /exit code 0 .* cwd \S*\/mcp-sub/);
      const other = await ok('run', { command: 'printf "[%s]" "$MCP_PERSIST"', session: 'other' });
      assert.equal(other.structuredContent.stdout, '[]', 'another session has its own variables');
      const list = (await ok('list', {})).structuredContent;
      const main = list.sessions.find((s: any) => s.session === 'main');
      assert.ok(main, 'list shows the main session');
      assert.equal(main.runtime, target.tier, "the tier is the operator's choice");
      assert.ok(list.commands.some((c: any) => c.command_id === a.command_id && c.exit_code === 7));
    });

    it('sends progress notifications while a call waits', async (t) => {
      if (skip(t)) return;
      const seen: Array<{ progress: number; message?: string }> = [];
      const r = await ok('run', { command: 'sleep 4; echo slept', session: 'progress', yield_s: 3 }, { onprogress: (p: { progress: number; message?: string }) => seen.push(p) });
      assert.ok(seen.length >= 1, `progress notifications: ${JSON.stringify(seen)}; result: ${textOf(r)}`);
      assert.match(seen[0]!.message ?? '', /running for/);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.progress > seen[i - 1]!.progress, 'progress increases');
    });

    it('drives a Python REPL through stdin, and one under a terminal with keys by name', async (t) => {
      if (skip(t)) return;
      if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is not installed`);
      const started = await ok('run', { command: `${PYTHON} -q -i`, session: 'repl', interactive: true, yield_s: 20 });
      const id = started.structuredContent.command_id;
      assert.equal(started.structuredContent.running, true, textOf(started));
      const answer = await ok('input', { command_id: id, text: 'print(6 * 7)', keys: ['Enter'], wait_for: '42' });
      assert.match(answer.structuredContent.stdout, /^42$/m);
      const end = await ok('input', { command_id: id, text: 'import sys; sys.exit(5)\n' });
      assert.equal((await ended(id, end.structuredContent)).exit_code, 5);

      const tty = await ok('run', { command: `${PYTHON} -q`, session: 'repl', tty: true, yield_s: 20 });
      const ttyId = tty.structuredContent.command_id;
      await ok('input', { command_id: ttyId, text: 'while True: pass', keys: ['Enter', 'Enter'], yield_s: 2 });
      const interrupted = await ok('input', { command_id: ttyId, keys: ['Ctrl-C'], wait_for: 'KeyboardInterrupt', yield_s: 20 });
      assert.match(interrupted.structuredContent.stdout, /KeyboardInterrupt/);
      // (Not Ctrl-D: CPython's REPL then dies of SIGINT for the interrupt it handled.)
      const w = await ended(ttyId, (await ok('input', { command_id: ttyId, text: 'exit(4)', keys: ['enter'] })).structuredContent);
      // The sandbox tier's job-control shell exits 2 here ("Cannot set tty process group"), a daemon bug of its own.
      if (target.tier === 'host') assert.equal(w.exit_code, 4);
    });

    it('stop leaves nothing of a tree that ignores SIGTERM', async (t) => {
      if (skip(t)) return;
      const [s1, s2] = [uniqueSleep(), uniqueSleep()];
      sleeps.push(s1, s2);
      const r = await ok('run', { command: `trap '' TERM; sleep ${s1} & (trap '' TERM; sleep ${s2}) & wait`, session: 'tree', yield_s: 1 });
      assert.equal(r.structuredContent.running, true);
      assert.equal(await waitFor(() => findSleeps(s1).length > 0 && findSleeps(s2).length > 0), true, 'the tree runs');
      const stopped = await ok('stop', { command_id: r.structuredContent.command_id });
      assert.deepEqual(stopped.structuredContent.stopped, [r.structuredContent.command_id]);
      assert.equal(stopped.structuredContent.command.running, false);
      await assertSleepsGone([s1, s2], 'after stop: ');
    });

    it("cancelling a call stops its command's whole tree", async (t) => {
      if (skip(t)) return;
      const s = uniqueSleep();
      sleeps.push(s);
      const abort = new AbortController();
      const pending = call('run', { command: `sleep ${s} & sleep ${s}; wait`, session: 'cancel', yield_s: 40 }, { signal: abort.signal }).then(
        () => 'answered',
        () => 'rejected',
      );
      assert.equal(await waitFor(() => findSleeps(s).length === 2), true, 'the command runs');
      abort.abort();
      assert.equal(await pending, 'rejected');
      await assertSleepsGone([s], 'after the cancellation: ');
    });

    it('10 MiB of output respects the budget, and the rest is readable by offset', async (t) => {
      if (skip(t)) return;
      const expected = Array.from({ length: SEQ_LINES }, (_, i) => String(i + 1)).join('\n') + '\n';
      const r = await ok('run', { command: `seq 1 ${SEQ_LINES}`, session: 'big', yield_s: 50 });
      const id = r.structuredContent.command_id;
      const v = await ended(id, r.structuredContent);
      const first = r.structuredContent;
      assert.equal(first.left_out.length, 1, textOf(r).slice(0, 300));
      const cut = first.left_out[0];
      assert.equal(cut.stream, 'stdout');
      const marker = `\n[trl: ${cut.to - cut.from} bytes of stdout left out here (bytes ${cut.from} to ${cut.to}); read them with output {"command_id": "${id}", "stdout_offset": ${cut.from}}]\n`;
      const shown = first.running ? first.stdout_next_offset : expected.length;
      assert.equal(first.stdout, expected.slice(0, cut.from) + marker + expected.slice(cut.to, shown));
      assert.ok(cut.from + (shown - cut.to) <= DEFAULT_BUDGET_BYTES, `the budget holds: ${cut.from + shown - cut.to} bytes shown`);
      assert.ok(textOf(r).length < DEFAULT_BUDGET_BYTES + 1000, 'the text rendering holds the budget too');
      // Page through the middle from the offset the cut line gave.
      let pos = cut.from;
      let pages = 0;
      while (pos < cut.to) {
        const page = (await ok('output', { command_id: id, stdout_offset: pos, max_output_tokens: 250_000, yield_s: 0 })).structuredContent;
        assert.equal(page.stdout_offset, pos);
        assert.ok(page.stdout_next_offset > pos, 'a page moves forward');
        const body = expected.slice(pos, page.stdout_next_offset);
        assert.equal(page.stdout.slice(0, body.length), body, `page at ${pos}`);
        const rest = page.stdout.slice(body.length);
        if (page.stdout_next_offset < expected.length)
          assert.match(
            rest,
            new RegExp(
              `^\\n\\[trl: ${expected.length - page.stdout_next_offset} more bytes of stdout after this \\(bytes ${page.stdout_next_offset} to ${expected.length}\\); continue with output .*"stdout_offset": ${page.stdout_next_offset}\\}\\]\\n$`,
            ),
          );
        else assert.equal(rest, '');
        pos = page.stdout_next_offset;
        pages++;
      }
      assert.ok(pages >= 10, `the middle took ${pages} pages of at most 1 MB`);
      assert.equal(v.exit_code, 0);
      assert.equal(v.lost_bytes, 0);
    });

    it('answers an invalid argument with a tool error that says what is wrong, and goes on serving', async (t) => {
      if (skip(t)) return;
      const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        ['run', { command: 42 }, /command/],
        ['run', {}, /command/],
        ['run', { command: 'true', cwd: '/tmp' }, /cwd/],
        ['run', { command: 'true', yield_s: 'soon' }, /yield_s/],
        ['run', { command: 'true', session: 'no spaces please' }, /session name/],
        ['run', { command: 'cat', stdin: 'x', interactive: true }, /not both/],
        ['output', { command_id: 'no-such-command' }, /no command no-such-command/],
        ['input', { command_id: 'no-such-command', text: 'x' }, /no command no-such-command/],
        ['input', { command_id: 'x', keys: ['Hyper-Q'] }, /unknown key name/],
        ['input', { command_id: 'x' }, /give `text`, `keys` or `eof: true`/],
        ['stop', {}, /exactly one of `command_id` or `session`/],
        ['stop', { session: 'never-made' }, /no session named never-made/],
      ];
      for (const [tool, args, message] of cases) {
        const r = await call(tool, args);
        assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)} should fail: ${textOf(r)}`);
        assert.match(textOf(r), message, `${tool} ${JSON.stringify(args)}`);
      }
      const done = (await ok('run', { command: 'true' })).structuredContent;
      const closed = await call('input', { command_id: done.command_id, text: 'x' });
      assert.equal(closed.isError, true);
      assert.match(textOf(closed), /ended|stdin is closed|no open stdin/);
      assert.equal((await ok('run', { command: 'echo still serving' })).structuredContent.stdout, 'still serving\n');
    });

    it('gives the exit code of the 70 s command later', async (t) => {
      if (skip(t)) return;
      assert.ok(long, 'the 70 s command was started');
      let v = (await ok('output', { command_id: long.id, yield_s: 50 })).structuredContent;
      for (let i = 0; v.running && i < 4; i++) v = (await ok('output', { command_id: long.id, yield_s: 50 })).structuredContent;
      assert.equal(v.running, false);
      assert.equal(v.exit_code, 3);
      assert.match(v.stdout, /finished/);
    });

    it('destroys its sessions when the client goes', async (t) => {
      if (skip(t)) return;
      if (!target.endsWithClient) return t.skip("the 2026-07-28 protocol over HTTP has no client session: its trl sessions end at the daemon's idle timeout");
      const s = uniqueSleep();
      sleeps.push(s);
      await ok('run', { command: `sleep ${s}`, session: 'left-running', yield_s: 0.5 });
      const ids: string[] = (await ok('list', {})).structuredContent.sessions.map((x: any) => x.session_id);
      assert.ok(ids.length >= 2);
      await conn.terminate();
      await conn.close();
      const gone = await waitFor(async () => {
        const live = new Set((await target.daemon().call('session.list', {})).sessions.map((x) => x.session_id));
        return ids.every((id) => !live.has(id));
      });
      assert.equal(gone, true, 'its sessions are destroyed');
      await assertSleepsGone([s], 'after the client left: ');
      if (conn.pid !== null) assert.equal(await waitFor(() => !procAlive(conn.pid!)), true, 'trl mcp exits');
    });
  });
}
