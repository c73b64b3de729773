import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import { budgetBytes } from '../budget.js';
import { AROUND, commandView, statusOfInfo } from '../command-view.js';
import { keyAction } from '../keys.js';
import { waitOnCommand } from '../output-watch.js';
import { startProgress } from '../progress.js';
import { renderCommand } from '../render.js';
import type { McpScope, TrackedCommand } from '../scope.js';
import { asTool, ToolError } from '../tool-errors.js';
import { CommandView, InputInput, SETTLE_MS } from '../tool-schemas.js';
import { trackedCommand } from './tracked.js';
import { yieldSeconds } from './yield.js';

const DESCRIPTION = `Type into a running command started with interactive or tty: text, then keys by name, then optionally the end of input (eof). The call then waits for the answer and returns the output you had not seen: once output has been quiet for ${SETTLE_MS} ms, the command ended, wait_for appeared, or yield_s passed.
Under a terminal (tty) keys are sent as a terminal sends them; without one, Ctrl-C, Ctrl-\\ and Ctrl-Z send SIGINT, SIGQUIT and SIGTSTP to the command's whole process tree, Ctrl-D closes stdin and Enter is a newline.`;

export function registerInput(server: McpServer, scope: McpScope): void {
  server.registerTool(
    'input',
    {
      title: 'Type into a command',
      description: DESCRIPTION,
      inputSchema: InputInput,
      outputSchema: CommandView,
      annotations: { title: 'Type into a command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args, ctx) => asTool(() => input(scope, args, ctx)),
  );
}

async function input(scope: McpScope, args: InputInput, ctx: ServerContext): Promise<CallToolResult> {
  const { caller } = scope;
  const cmd = await trackedCommand(scope, args.command_id);
  const from = { ...cmd.read };
  await type(scope, cmd, args);
  const yieldS = yieldSeconds(args.yield_s);
  const stopProgress = startProgress(ctx, yieldS, async () => undefined);
  let end;
  try {
    end = await waitOnCommand(caller, cmd.commandId, {
      yieldMs: yieldS * 1000,
      ...(args.wait_for === undefined ? { settleMs: SETTLE_MS } : { waitFor: args.wait_for }),
      from,
      signal: ctx.mcpReq.signal,
    });
  } finally {
    stopProgress();
  }
  const info = await caller.call('exec.info', { command_id: cmd.commandId });
  const view = await commandView(caller, cmd, statusOfInfo(info), { from, budget: budgetBytes(args.max_output_tokens), mode: AROUND, cwd: null });
  const notes = args.wait_for !== undefined && end !== 'found' ? [`${JSON.stringify(args.wait_for)} has not appeared${end === 'exit' ? ' and the command ended' : ` within ${yieldS} s`}`] : [];
  return { content: [{ type: 'text', text: renderCommand(view, notes) }], structuredContent: view };
}

/** The text, then each key in order: bytes are written together, a key that is a signal (no terminal) goes between. */
async function type(scope: McpScope, cmd: TrackedCommand, args: InputInput): Promise<void> {
  const { caller } = scope;
  let pending = args.text ?? '';
  let eof = args.eof === true;
  const flush = async () => {
    if (pending.length === 0) return;
    await caller.call('exec.input', { command_id: cmd.commandId, data: pending });
    pending = '';
  };
  for (const key of args.keys ?? []) {
    const action = keyAction(key, cmd.pty);
    if (action === null) throw new ToolError(`unknown key ${JSON.stringify(key)}`);
    if ('bytes' in action) pending += action.bytes;
    else if ('signal' in action) {
      await flush();
      await caller.call('exec.signal', { command_id: cmd.commandId, signal: action.signal });
    } else eof = true;
  }
  if (eof) await caller.call('exec.input', { command_id: cmd.commandId, ...(pending.length > 0 ? { data: pending } : {}), eof: true });
  else await flush();
}
