import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { ExecResult } from '../../protocol/exec.js';
import { budgetBytes } from '../budget.js';
import { AROUND, commandView, statusOfInfo, type CommandStatus } from '../command-view.js';
import { waitOnCommand } from '../output-watch.js';
import { startProgress } from '../progress.js';
import { renderCommand } from '../render.js';
import { DEFAULT_SESSION, type McpScope, type TrackedCommand } from '../scope.js';
import { asTool, isCode, ToolError } from '../tool-errors.js';
import { CommandView, DEFAULT_YIELD_S, MAX_YIELD_S, RunInput, SETTLE_MS } from '../tool-schemas.js';
import { yieldSeconds } from './yield.js';

const DESCRIPTION = `Run a shell command in a persistent session and return its output, exit code and cwd.
The session (default "${DEFAULT_SESSION}") is created on first use; \`cd\` and \`export\` carry over to the next call naming the same session (when the command ends within the call). stdout and stderr come back separately.
The call returns within yield_s (default ${DEFAULT_YIELD_S} s, at most ${MAX_YIELD_S}): a command still running then goes on in the background and you get its command_id — read more with output (it can wait for the end or a text), type into it with input, end it with stop. Nothing is lost when a command outlives the call.
For programs that ask questions (REPLs, installers, ssh) pass interactive: true (or tty: true for a terminal): the call returns as soon as the program waits for input; answer with input.
Output past the budget (max_output_tokens) keeps its head and tail; the cut line gives the byte offset to read the middle with output.`;

/** Terminal size of tty commands: wide enough that a model sees whole lines. */
const TTY = { cols: 160, rows: 48 };

export function registerRun(server: McpServer, scope: McpScope): void {
  server.registerTool(
    'run',
    {
      title: 'Run a shell command',
      description: DESCRIPTION,
      inputSchema: RunInput,
      outputSchema: CommandView,
      annotations: { title: 'Run a shell command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (args, ctx) => asTool(() => run(scope, args, ctx)),
  );
}

async function run(scope: McpScope, args: RunInput, ctx: ServerContext): Promise<CallToolResult> {
  const name = args.session ?? DEFAULT_SESSION;
  const notes: string[] = [];
  let session = await scope.session(name);
  const attempt = () => (args.interactive || args.tty ? startInteractive(scope, args, name, session.id, ctx) : runForeground(scope, args, name, session.id, ctx));
  let out: { view: CommandView; notes: string[] };
  try {
    out = await attempt();
  } catch (err) {
    if (!isCode(err, 'SESSION_NOT_FOUND')) throw err;
    // It ended behind our back (max_idle_s, session_ttl_s): a fresh one, said so.
    scope.forget(name);
    session = await scope.session(name);
    notes.push(`session ${name} had ended (idle or too old): this ran in a new one, cwd and variables start afresh`);
    out = await attempt();
  }
  if (session.created) notes.unshift(await newSessionNote(scope, name, session.id));
  notes.push(...out.notes);
  return { content: [{ type: 'text', text: renderCommand(out.view, notes) }], structuredContent: out.view };
}

/** exec.run with yield_after_s: a command done within the yield keeps its cwd and exports (state capture). */
async function runForeground(scope: McpScope, args: RunInput, name: string, sessionId: string, ctx: ServerContext): Promise<{ view: CommandView; notes: string[] }> {
  const { caller } = scope;
  const yieldS = yieldSeconds(args.yield_s);
  let foreground: string | undefined;
  const findForeground = async () => {
    foreground ??= (await caller.call('exec.list', { session_id: sessionId })).commands.find((c) => c.state === 'running' && !c.background)?.command_id;
    return foreground;
  };
  const cancel = () =>
    void findForeground()
      .then((id) => (id ? caller.call('exec.cancel', { command_id: id }) : undefined))
      .catch(() => undefined);
  const signal = ctx.mcpReq.signal;
  signal.addEventListener('abort', cancel, { once: true });
  const stopProgress = startProgress(ctx, yieldS, async () => {
    const id = await findForeground();
    if (!id) return undefined;
    const i = await caller.call('exec.info', { command_id: id });
    return `${i.stdout_bytes + i.stderr_bytes} bytes of output so far`;
  });
  let result: ExecResult;
  try {
    result = await caller.call('exec.run', {
      session_id: sessionId,
      command: args.command,
      env: args.env,
      working_dir: args.workdir,
      stdin: args.stdin,
      timeout_s: args.timeout_s,
      yield_after_s: Math.max(yieldS, 0.001),
    });
  } finally {
    stopProgress();
    signal.removeEventListener('abort', cancel);
  }
  // Cancelled before the command was found: stop it now.
  if (signal.aborted && result.running) await caller.call('exec.cancel', { command_id: result.command_id }).catch(() => undefined);
  const tracked: TrackedCommand = { commandId: result.command_id, session: name, sessionId, pty: false, read: { stdout: 0, stderr: 0 } };
  scope.track(tracked);
  const known = {
    ...(exact(result.stdout, result.stdout_bytes, result.stdout_truncated_bytes, result.stdout_invalid_utf8) ? { stdout: Buffer.from(result.stdout, 'utf8') } : {}),
    ...(exact(result.stderr, result.stderr_bytes, result.stderr_truncated_bytes, result.stderr_invalid_utf8) ? { stderr: Buffer.from(result.stderr, 'utf8') } : {}),
  };
  const view = await commandView(caller, tracked, statusOfResult(result), {
    from: { stdout: 0, stderr: 0 },
    budget: budgetBytes(args.max_output_tokens),
    mode: AROUND,
    cwd: result.working_dir,
    known,
  });
  return { view, notes: [] };
}

/** A program that reads its input as it goes: started in the background, the call returns once it waits (its output settles). */
async function startInteractive(scope: McpScope, args: RunInput, name: string, sessionId: string, ctx: ServerContext): Promise<{ view: CommandView; notes: string[] }> {
  const { caller } = scope;
  const started = await caller.call('exec.start', {
    session_id: sessionId,
    command: args.command,
    env: args.env,
    working_dir: args.workdir,
    timeout_s: args.timeout_s,
    stdin_open: true,
    ...(args.tty ? { pty: TTY } : {}),
  });
  const tracked: TrackedCommand = { commandId: started.command_id, session: name, sessionId, pty: args.tty === true, read: { stdout: 0, stderr: 0 } };
  scope.track(tracked);
  const yieldS = yieldSeconds(args.yield_s);
  const stopProgress = startProgress(ctx, yieldS, async () => {
    const i = await caller.call('exec.info', { command_id: started.command_id });
    return `${i.stdout_bytes + i.stderr_bytes} bytes of output so far`;
  });
  let end;
  try {
    end = await waitOnCommand(caller, started.command_id, { yieldMs: yieldS * 1000, settleMs: SETTLE_MS, settleAfterOutput: true, from: { stdout: 0, stderr: 0 }, signal: ctx.mcpReq.signal });
  } finally {
    stopProgress();
  }
  if (end === 'cancelled') {
    await caller.call('exec.cancel', { command_id: started.command_id }).catch(() => undefined);
    throw new ToolError('cancelled: the command was stopped');
  }
  const status: CommandStatus = statusOfInfo(await caller.call('exec.info', { command_id: started.command_id }));
  const view = await commandView(caller, tracked, status, { from: { stdout: 0, stderr: 0 }, budget: budgetBytes(args.max_output_tokens), mode: AROUND, cwd: null });
  return { view, notes: status.running ? ['it waits for input: answer with input (text, keys such as Enter or Ctrl-C)'] : [] };
}

/** The result's text is the stream's bytes exactly (nothing dropped, nothing replaced): the view needs no further read. */
function exact(text: string, bytes: number, truncated: number, invalid: boolean): boolean {
  return truncated === 0 && !invalid && Buffer.byteLength(text, 'utf8') === bytes;
}

function statusOfResult(r: ExecResult): CommandStatus {
  return {
    running: r.running,
    exit_code: r.exit_code,
    signal: r.signal,
    timed_out: r.timed_out,
    duration_ms: r.running ? null : r.duration_ms,
    stdout_bytes: r.stdout_bytes,
    stderr_bytes: r.stderr_bytes,
  };
}

/** What a model should know of a session it just got: where it is and how it is isolated. */
async function newSessionNote(scope: McpScope, name: string, sessionId: string): Promise<string> {
  try {
    const s = await scope.caller.call('session.info', { session_id: sessionId });
    const isolation = s.isolation.isolated ? `${s.runtime} tier, writable workspace ${s.workspace}${s.isolation.network ? '' : ', no network'}` : `${s.runtime} tier (not isolated)`;
    return `new session ${name}: ${isolation}, shell ${s.shell}`;
  } catch {
    return `new session ${name}`;
  }
}
