import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import { renderList } from '../render.js';
import type { McpScope } from '../scope.js';
import { asTool, isCode } from '../tool-errors.js';
import { ListInput, ListOutput } from '../tool-schemas.js';

const DESCRIPTION = `List your sessions (tier, cwd, what runs) and the commands you started in them, running and finished, with their ids, exit codes and output sizes.`;

export function registerList(server: McpServer, scope: McpScope): void {
  server.registerTool(
    'list',
    {
      title: 'List sessions and commands',
      description: DESCRIPTION,
      inputSchema: ListInput,
      outputSchema: ListOutput,
      annotations: { title: 'List sessions and commands', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args) => asTool(() => list(scope, args)),
  );
}

async function list(scope: McpScope, args: ListInput): Promise<CallToolResult> {
  const out: ListOutput = { sessions: [], commands: [] };
  for (const [name, id] of scope.sessionNames()) {
    if (args.session !== undefined && name !== args.session) continue;
    let info;
    let cmds;
    try {
      [info, cmds] = await Promise.all([scope.caller.call('session.info', { session_id: id }), scope.caller.call('exec.list', { session_id: id })]);
    } catch (err) {
      if (!isCode(err, 'SESSION_NOT_FOUND')) throw err;
      scope.forget(name); // ended behind our back (idle, too old)
      continue;
    }
    out.sessions.push({
      session: name,
      session_id: id,
      runtime: info.runtime,
      state: info.state,
      cwd: info.working_dir,
      workspace: info.workspace,
      network: info.isolation.network,
      running: info.running,
    });
    for (const c of cmds.commands) {
      out.commands.push({
        command_id: c.command_id,
        session: name,
        state: c.state,
        command: c.command,
        exit_code: c.exit_code,
        signal: c.signal,
        pty: c.pty,
        stdin_open: c.stdin_open,
        stdout_bytes: c.stdout_bytes,
        stderr_bytes: c.stderr_bytes,
        started_at: c.started_at,
        ended_at: c.ended_at,
      });
    }
  }
  return { content: [{ type: 'text', text: renderList(out) }], structuredContent: out };
}
