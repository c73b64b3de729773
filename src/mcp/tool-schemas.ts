import { z } from 'zod';
import { AnyPath, EnvMap, NoNul, Seconds } from '../protocol/common.js';
import { CommandId, CommandInfo, CommandState, execCommonShape, ExecResult } from '../protocol/exec.js';
import { SessionInfo } from '../protocol/session.js';
import { MAX_OUTPUT_TOKENS, DEFAULT_OUTPUT_TOKENS } from './budget.js';
import { KEY_NAMES, keyAction } from './keys.js';
import { DEFAULT_SESSION } from './scope.js';

/**
 * Input and output schemas of the MCP tools, built from the protocol's zod
 * schemas (the fields a tool passes on keep the protocol's validation) with
 * descriptions written for a model.
 */

/** A call returns within this many seconds unless asked otherwise. */
export const DEFAULT_YIELD_S = 10;
/** ...and never later than this: MCP clients give up on a call after about 60 s. */
export const MAX_YIELD_S = 50;
/** After input, output that stayed quiet this long counts as the program's whole answer. */
export const SETTLE_MS = 500;

export const SESSION_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const SessionName = z
  .string()
  .regex(SESSION_NAME_RE, { message: 'a session name is 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit, e.g. "main" or "build"' })
  .describe(`shell session to use, created on first use; calls naming the same session share its cwd and exported variables (default "${DEFAULT_SESSION}")`);

const YieldSeconds = z
  .number()
  .min(0)
  .describe(`return after at most this many seconds even if the command still runs (it keeps running; you get its id); default ${DEFAULT_YIELD_S}, more than ${MAX_YIELD_S} counts as ${MAX_YIELD_S}`);

const OutputTokens = z
  .number()
  .int()
  .min(1)
  .max(MAX_OUTPUT_TOKENS)
  .describe(
    `output budget of this call in tokens (about 4 characters each; default ${DEFAULT_OUTPUT_TOKENS}): past it the head and the tail are kept and the middle is replaced by a line giving the byte offset to read it from`,
  );

const WaitFor = z.string().min(1).max(1000).describe('return as soon as this text appears in output you have not seen yet (a prompt, "listening on")');

export const RunInput = z
  .strictObject({
    command: NoNul.min(1).describe('shell command line, run by the session shell (sh -c), e.g. "npm test" or "cd src && ls"'),
    session: SessionName.optional(),
    workdir: AnyPath.optional().describe("working directory of this command only, relative to the session's cwd (a `cd` in the command moves the session itself)"),
    env: EnvMap.optional().describe('variables for this command only (an `export` in the command sets them for the session)'),
    stdin: execCommonShape.stdin.describe('text written to the standard input, which is then closed'),
    interactive: z.boolean().optional().describe('keep stdin open so that you can answer prompts with the input tool; the call returns once output settles'),
    tty: z.boolean().optional().describe('run under a pseudo-terminal (for programs that need one: REPLs, pagers, ssh); stdout and stderr merge; input tool keys such as Ctrl-C go to it'),
    timeout_s: Seconds.optional().describe('kill the command (its whole process tree) after this many seconds; default none'),
    yield_s: YieldSeconds.optional(),
    max_output_tokens: OutputTokens.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.stdin !== undefined && (p.interactive || p.tty)) {
      ctx.addIssue({ code: 'custom', path: ['stdin'], message: 'give `stdin` (written, then closed) or `interactive`/`tty` (answer with the input tool), not both' });
    }
  });
export type RunInput = z.infer<typeof RunInput>;

const Offset = (stream: string) => z.number().int().min(0).describe(`byte offset of ${stream} to read from (as a cut line or ${stream}_next_offset gives it); default: where the last call left off`);

export const OutputInput = z.strictObject({
  command_id: CommandId.describe('id of a command you started (run returns it)'),
  stdout_offset: Offset('stdout').optional(),
  stderr_offset: Offset('stderr').optional(),
  yield_s: YieldSeconds.describe(`wait up to this many seconds for the command to end (or for wait_for); 0 = answer at once; default ${DEFAULT_YIELD_S}, at most ${MAX_YIELD_S}`).optional(),
  wait_for: WaitFor.optional(),
  max_output_tokens: OutputTokens.optional(),
});
export type OutputInput = z.infer<typeof OutputInput>;

const KeyName = z
  .string()
  .refine((k) => keyAction(k, true) !== null, { message: `unknown key name; use one of ${KEY_NAMES}` })
  .describe(`a key by name: ${KEY_NAMES}`);

export const InputInput = z
  .strictObject({
    command_id: CommandId.describe('id of a running command started with interactive or tty'),
    text: z.string().optional().describe('text to type (add "\\n", or the Enter key, to submit a line)'),
    keys: z.array(KeyName).max(100).optional().describe('keys to press after the text, in order, e.g. ["Enter"] or ["Ctrl-C"]'),
    eof: z.boolean().optional().describe('close the standard input after writing (end of input)'),
    yield_s: YieldSeconds.describe(
      `wait up to this many seconds for the answer; the call returns once output has been quiet for ${SETTLE_MS} ms, the command ended, or wait_for appeared; default ${DEFAULT_YIELD_S}, at most ${MAX_YIELD_S}`,
    ).optional(),
    wait_for: WaitFor.optional(),
    max_output_tokens: OutputTokens.optional(),
  })
  .refine((p) => p.text !== undefined || (p.keys?.length ?? 0) > 0 || p.eof === true, {
    message: 'give `text`, `keys` or `eof: true` (to only read output, use the output tool)',
    path: ['text'],
  });
export type InputInput = z.infer<typeof InputInput>;

export const StopInput = z
  .strictObject({
    command_id: CommandId.optional().describe('the command to stop: SIGTERM to its whole process tree, SIGKILL after a grace period'),
    session: SessionName.describe('a session to end instead: every command in it is killed and its cwd and variables are forgotten').optional(),
    force: z.boolean().optional().describe('SIGKILL at once, without the grace period'),
  })
  .refine((p) => (p.command_id === undefined) !== (p.session === undefined), {
    message: 'give exactly one of `command_id` or `session`',
    path: ['command_id'],
  });
export type StopInput = z.infer<typeof StopInput>;

export const ListInput = z.strictObject({
  session: SessionName.describe('only this session and its commands').optional(),
});
export type ListInput = z.infer<typeof ListInput>;

const Stream = z.enum(['stdout', 'stderr']);

/** What run, output, input and stop return about a command. */
export const CommandView = z.object({
  command_id: ExecResult.shape.command_id,
  session: z.string().describe('the session it runs in'),
  running: z.boolean().describe('still running: read more with output, type with input, end it with stop'),
  exit_code: ExecResult.shape.exit_code,
  signal: ExecResult.shape.signal,
  timed_out: ExecResult.shape.timed_out.describe('killed by its timeout_s'),
  duration_ms: z.number().nullable(),
  cwd: z.string().nullable().describe('the session cwd after the command (run only)'),
  stdout: z.string().describe('stdout from stdout_offset, within the budget'),
  stderr: z.string(),
  stdout_offset: z.number().int(),
  stdout_next_offset: z.number().int().describe('where the next read of stdout starts'),
  stderr_offset: z.number().int(),
  stderr_next_offset: z.number().int(),
  left_out: z.array(z.object({ stream: Stream, from: z.number().int(), to: z.number().int() })).describe('byte ranges the budget left out; read one with output and its <stream>_offset'),
  lost_bytes: z.number().int().describe('bytes the daemon no longer holds (it keeps the head and tail of each stream, max_output_bytes)'),
  invalid_utf8: z.boolean().describe('output held bytes that are not UTF-8, shown as U+FFFD'),
});
export type CommandView = z.infer<typeof CommandView>;

export const StopOutput = z.object({
  stopped: z.array(z.string()).describe('ids of the commands that were killed'),
  session: z.string().nullable().describe('the session ended, if one was named'),
  killed_processes: z.number().int().nullable(),
  command: CommandView.nullable().describe('the stopped command and the output you had not seen'),
});
export type StopOutput = z.infer<typeof StopOutput>;

export const ListOutput = z.object({
  sessions: z.array(
    z.object({
      session: z.string(),
      session_id: SessionInfo.shape.session_id,
      runtime: SessionInfo.shape.runtime,
      state: SessionInfo.shape.state,
      cwd: SessionInfo.shape.working_dir,
      workspace: SessionInfo.shape.workspace,
      network: z.boolean(),
      running: SessionInfo.shape.running,
    }),
  ),
  commands: z.array(
    z.object({
      command_id: CommandInfo.shape.command_id,
      session: z.string(),
      state: CommandState,
      command: CommandInfo.shape.command,
      exit_code: CommandInfo.shape.exit_code,
      signal: CommandInfo.shape.signal,
      pty: CommandInfo.shape.pty,
      stdin_open: CommandInfo.shape.stdin_open,
      stdout_bytes: CommandInfo.shape.stdout_bytes,
      stderr_bytes: CommandInfo.shape.stderr_bytes,
      started_at: CommandInfo.shape.started_at,
      ended_at: CommandInfo.shape.ended_at,
    }),
  ),
});
export type ListOutput = z.infer<typeof ListOutput>;
