import type { McpScope, TrackedCommand } from '../scope.js';
import { ToolError } from '../tool-errors.js';

/**
 * A command of this scope: one a tool started, or (forgotten by the scope,
 * which keeps the latest 1,000) one the daemon says runs in a session of the
 * scope. Anything else is a tool error that says where ids come from.
 */
export async function trackedCommand(scope: McpScope, commandId: string): Promise<TrackedCommand> {
  const known = scope.command(commandId);
  if (known) return known;
  const info = await scope.caller.call('exec.info', { command_id: commandId }).catch(() => null);
  const session = info ? scope.sessionNames().find(([, id]) => id === info.session_id) : undefined;
  if (!info || !session) throw new ToolError(`no command ${commandId} was started through this MCP connection: use the command_id that run returned (the list tool shows them)`);
  const cmd: TrackedCommand = { commandId, session: session[0], sessionId: info.session_id, pty: info.pty, read: { stdout: 0, stderr: 0 } };
  scope.track(cmd);
  return cmd;
}
