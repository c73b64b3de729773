import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import { budgetBytes } from '../budget.js';
import { commandView, statusOfInfo } from '../command-view.js';
import { waitOnCommand, type WaitEnd } from '../output-watch.js';
import { startProgress } from '../progress.js';
import { renderCommand } from '../render.js';
import type { McpScope } from '../scope.js';
import { asTool } from '../tool-errors.js';
import { CommandView, DEFAULT_YIELD_S, OutputInput } from '../tool-schemas.js';
import { trackedCommand } from './tracked.js';
import { yieldSeconds } from './yield.js';

const DESCRIPTION = `Read the output of a command you started: what it printed since your last call about it (or from a byte offset), and its exit code once it has ended. Output stays readable after the command ends.
A running command is waited on for up to yield_s (default ${DEFAULT_YIELD_S} s): the call returns as soon as it ends or, with wait_for, as soon as that text appears; yield_s: 0 answers at once. Prefer one call with a longer yield_s (or wait_for) to repeated polling.
stdout_offset / stderr_offset page forward from that byte (the offset a cut line gives), as much as the budget holds, and say where to continue.`;

export function registerOutput(server: McpServer, scope: McpScope): void {
  server.registerTool(
    'output',
    {
      title: 'Read command output',
      description: DESCRIPTION,
      inputSchema: OutputInput,
      outputSchema: CommandView,
      annotations: { title: 'Read command output', readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args, ctx) => asTool(() => output(scope, args, ctx)),
  );
}

async function output(scope: McpScope, args: OutputInput, ctx: ServerContext): Promise<CallToolResult> {
  const { caller } = scope;
  const cmd = await trackedCommand(scope, args.command_id);
  const from = { stdout: args.stdout_offset ?? cmd.read.stdout, stderr: args.stderr_offset ?? cmd.read.stderr };
  let info = await caller.call('exec.info', { command_id: cmd.commandId });
  const yieldS = yieldSeconds(args.yield_s);
  let end: WaitEnd | null = null;
  if (info.state === 'running' && yieldS > 0) {
    const stopProgress = startProgress(ctx, yieldS, async () => {
      const i = await caller.call('exec.info', { command_id: cmd.commandId });
      return `${i.stdout_bytes + i.stderr_bytes} bytes of output so far`;
    });
    try {
      end = await waitOnCommand(caller, cmd.commandId, { yieldMs: yieldS * 1000, waitFor: args.wait_for, from, signal: ctx.mcpReq.signal });
    } finally {
      stopProgress();
    }
    info = await caller.call('exec.info', { command_id: cmd.commandId });
  }
  const view = await commandView(caller, cmd, statusOfInfo(info), {
    from,
    budget: budgetBytes(args.max_output_tokens),
    mode: { stdout: args.stdout_offset === undefined ? 'around' : 'forward', stderr: args.stderr_offset === undefined ? 'around' : 'forward' },
    cwd: null,
  });
  const notes =
    args.wait_for !== undefined && end !== null && end !== 'found' ? [`${JSON.stringify(args.wait_for)} has not appeared${end === 'exit' ? ' and the command ended' : ` within ${yieldS} s`}`] : [];
  return { content: [{ type: 'text', text: renderCommand(view, notes) }], structuredContent: view };
}
