import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { budgetBytes } from '../budget.js';
import { AROUND, commandView, statusOfInfo } from '../command-view.js';
import { renderStop } from '../render.js';
import type { McpScope } from '../scope.js';
import { asTool, ToolError } from '../tool-errors.js';
import { StopInput, StopOutput } from '../tool-schemas.js';
import { trackedCommand } from './tracked.js';

const DESCRIPTION = `Stop a command you started, with its whole process tree (children, grandchildren, background jobs): SIGTERM, then SIGKILL after a grace period (force: SIGKILL at once). Returns how it ended and the output you had not seen.
With session instead of command_id, end that session: every command in it is killed and its cwd and variables are forgotten; the next run naming it starts afresh.`;

/** How long a forced stop waits for the killed tree to be gone. */
const FORCE_WAIT_S = 30;

export function registerStop(server: McpServer, scope: McpScope): void {
  server.registerTool(
    'stop',
    {
      title: 'Stop a command or a session',
      description: DESCRIPTION,
      inputSchema: StopInput,
      outputSchema: StopOutput,
      annotations: { title: 'Stop a command or a session', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args) => asTool(() => stop(scope, args)),
  );
}

async function stop(scope: McpScope, args: StopInput): Promise<CallToolResult> {
  const out = args.session !== undefined ? await stopSession(scope, args.session, args.force === true) : await stopCommand(scope, args.command_id!, args.force === true);
  return { content: [{ type: 'text', text: renderStop(out) }], structuredContent: out };
}

async function stopCommand(scope: McpScope, commandId: string, force: boolean): Promise<StopOutput> {
  const { caller } = scope;
  const cmd = await trackedCommand(scope, commandId);
  let stopped: string[];
  if (force) {
    const before = await caller.call('exec.info', { command_id: commandId });
    if (before.state === 'running') await caller.call('exec.signal', { command_id: commandId, signal: 'SIGKILL' });
    await caller.call('exec.wait', { command_id: commandId, timeout_s: FORCE_WAIT_S });
    stopped = before.state === 'running' ? [commandId] : [];
  } else {
    stopped = (await caller.call('exec.cancel', { command_id: commandId })).cancelled;
  }
  const info = await caller.call('exec.info', { command_id: commandId });
  const view = await commandView(caller, cmd, statusOfInfo(info), { from: { ...cmd.read }, budget: budgetBytes(undefined), mode: AROUND, cwd: null });
  return { stopped, session: null, killed_processes: null, command: view };
}

async function stopSession(scope: McpScope, name: string, force: boolean): Promise<StopOutput> {
  const entry = scope.sessionNames().find(([n]) => n === name);
  if (!entry) throw new ToolError(`no session named ${name} in this MCP connection (the list tool shows them)`);
  const running = (await scope.caller.call('exec.list', { session_id: entry[1] }).catch(() => ({ commands: [] }))).commands.filter((c) => c.state === 'running');
  const killed = await scope.destroySession(name, force);
  return { stopped: running.map((c) => c.command_id), session: name, killed_processes: killed, command: null };
}
