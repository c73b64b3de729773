import { z } from 'zod';
import { AnyPath, CommandId, Encoding, EnvMap, EnvName, NoNul, PositiveSeconds, Seconds, SessionId } from './common.js';

/** Parameters shared by exec.run, exec.stream and exec.start (PROTOCOL §6). */
export const execCommonShape = {
  session_id: SessionId.optional().describe('omitted: a fresh ephemeral session, destroyed when the command ends'),
  command: NoNul.min(1).optional().describe('run as <shell> -c <command>'),
  argv: z.array(z.string()).min(1).optional().describe('exec directly, no shell, no state capture'),
  env: EnvMap.optional().describe('command-level variables, visible to this command only'),
  secret_keys: z.array(EnvName).optional().describe('names of command-level (or session) variables whose values are secret'),
  working_dir: AnyPath.optional().describe('this command only; relative paths resolve against the session cwd'),
  stdin: z.string().optional().describe('data written to stdin, then stdin is closed; default /dev/null'),
  stdin_encoding: Encoding.optional(),
  timeout_s: Seconds.optional().describe('0 = none; default: the session timeout (exec.run, exec.stream) or none (exec.start); on expiry SIGTERM to the tree, grace, SIGKILL'),
  idle_timeout_s: PositiveSeconds.optional().describe('kill when no output for this long'),
  encoding: Encoding.optional().describe('how output is returned'),
  max_output_bytes: z.number().int().positive().optional().describe('per stream; the middle is dropped'),
  persist_state: z.boolean().optional().describe("take over the shell's final cwd and exported env (default true; false under `--compat claw-core`)"),
  check: z.boolean().optional().describe('non-zero exit -> COMMAND_FAILED'),
  pty: z
    .strictObject({ cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) })
    .optional()
    .describe('run under a pseudo-terminal; stdout and stderr merge into stdout; no state capture'),
  stdin_open: z.boolean().optional().describe('keep stdin open for exec.input (default: true under a pty, false otherwise)'),
} as const;

function commandOrArgv<T extends { command?: string | undefined; argv?: string[] | undefined }>(p: T, ctx: z.RefinementCtx) {
  if ((p.command === undefined) === (p.argv === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of `command` or `argv`', path: ['command'] });
  }
  if (p.argv?.some((a) => a.includes('\0'))) {
    ctx.addIssue({ code: 'custom', message: 'argv entries must not contain a NUL byte', path: ['argv'] });
  }
}

function stdinChoice<T extends { stdin?: string | undefined; stdin_open?: boolean | undefined }>(p: T, ctx: z.RefinementCtx) {
  if (p.stdin !== undefined && p.stdin_open) {
    ctx.addIssue({ code: 'custom', message: 'give `stdin` (written, then closed) or `stdin_open` (write with exec.input), not both', path: ['stdin_open'] });
  }
}

/**
 * exec.run's and exec.wait's `raw_output`: the output as raw bytes after the
 * answer's line instead of inside its JSON (no escaping on the way out, no
 * JSON parse of megabytes on the way in). Only a byte stream can carry it.
 */
const RAW_OUTPUT_DESCRIPTION =
  "Unix socket and stdio only: stdout and stderr are not in the answer's JSON but follow its line as raw bytes, stdout's then stderr's, and the next line starts after them; the answer's `stdout` and `stderr` are then empty and `raw_output` gives the two lengths. The bytes are what the fields would hold: UTF-8 text in utf8 (decode invalid bytes as U+FFFD; `*_invalid_utf8` says whether there are any), the output's own bytes in base64. An error answer carries no bytes";
export const RawOutputParam = z.boolean().optional().describe(RAW_OUTPUT_DESCRIPTION);

export const ExecRunParams = z
  .strictObject({
    ...execCommonShape,
    yield_after_s: PositiveSeconds.optional().describe('if still running after this long, return the output so far with running: true'),
    raw_output: RawOutputParam,
  })
  .superRefine(commandOrArgv)
  .superRefine(stdinChoice);
export type ExecRunParams = z.infer<typeof ExecRunParams>;

/** The most bytes of fd 3 that exec.stream's `fd3` brings back: past it, none (an environment that large could not be passed on anyway). */
export const MAX_FD3_BYTES = 4 * 1024 * 1024;

function fd3Choice<T extends { fd3?: boolean | undefined; argv?: string[] | undefined; pty?: unknown }>(p: T, ctx: z.RefinementCtx) {
  if (p.fd3 && (p.argv === undefined || p.pty !== undefined)) {
    ctx.addIssue({ code: 'custom', message: '`fd3` is for an `argv` program without a pty (a `command` uses fd 3 for its own shell state)', path: ['fd3'] });
  }
}

export const ExecStreamParams = z
  .strictObject({
    ...execCommonShape,
    background: z.boolean().optional().describe('start beside the foreground slot, as exec.start does (no state capture, no default timeout): exec.start and exec.attach in one request'),
    fd3: z
      .boolean()
      .optional()
      .describe(
        `argv only, no pty: give the program a pipe on fd 3 and return what it wrote there (at most ${MAX_FD3_BYTES} bytes, redacted as the output is) in the exit event's \`fd3\`; a relay carries a shell's state back this way (the docker tier's inner trl)`,
      ),
  })
  .superRefine(commandOrArgv)
  .superRefine(stdinChoice)
  .superRefine(fd3Choice);
export type ExecStreamParams = z.infer<typeof ExecStreamParams>;
export const ExecStartParams = z
  .strictObject({ ...execCommonShape })
  .superRefine(commandOrArgv)
  .superRefine(stdinChoice);
export type ExecStartParams = z.infer<typeof ExecStartParams>;

export const StreamOpened = z.object({ stream_id: z.string(), command_id: z.string(), pid: z.number().int().describe('the process id of the command (0 when the tier does not tell)') });
export const ExecStartResult = z.object({ command_id: z.string(), pid: z.number().int() });

export const CommandState = z.enum(['running', 'exited', 'killed', 'timed_out']);
export const OutputStream = z.enum(['stdout', 'stderr']);

export const CommandInfo = z.object({
  command_id: z.string(),
  session_id: z.string(),
  state: CommandState,
  command: z.string().nullable().describe('the command text (argv joined for argv mode)'),
  pid: z.number().int(),
  pty: z.boolean(),
  background: z.boolean().describe('started by exec.start (not holding the foreground slot)'),
  started_at: z.string(),
  ended_at: z.string().nullable(),
  duration_ms: z.number().int().nullable().describe('whole milliseconds'),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  timed_out: z.boolean(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  stdin_open: z.boolean(),
});
export type CommandInfo = z.infer<typeof CommandInfo>;

export const ExecListParams = z.strictObject({
  session_id: z.string().min(1).optional().describe('omitted: the commands of every session, ephemeral ones included'),
});
export const ExecListResult = z.object({ commands: z.array(CommandInfo) });
export const ExecInfoParams = z.strictObject({ command_id: CommandId });

export const ExecOutputParams = z.strictObject({
  command_id: CommandId,
  stream: OutputStream.optional().describe('default stdout'),
  offset: z.number().int().min(0).optional().describe('absolute byte offset to read from; default 0'),
  max_bytes: z.number().int().positive().optional().describe('default and maximum 1 MiB'),
  wait_ms: z.number().int().min(0).max(600_000).optional().describe('long-poll: wait this long for bytes past offset'),
  encoding: Encoding.optional(),
});
export const ExecOutputResult = z.object({
  data: z.string(),
  encoding: Encoding,
  offset: z.number().int().describe('offset of the first byte returned (past any dropped middle)'),
  next_offset: z.number().int(),
  eof: z.boolean().describe('the command is complete and every byte up to next_offset was read'),
  dropped_bytes: z.number().int().describe('bytes skipped because the middle of the output was dropped'),
});

/** The raw byte route: exec.pipe on the Unix socket, GET …/output over HTTP (docs/protocol.md). */
export const RAW_END_REASONS = ['eof', 'gap', 'now'] as const;

export const ExecPipeParams = z.strictObject({
  command_id: CommandId,
  stream: OutputStream.optional().describe('default stdout'),
  offset: z.number().int().min(0).optional().describe('absolute byte offset to start from; default 0'),
  follow: z.boolean().optional().describe('default true: go on with the bytes as they are produced until the command is complete; false: only the bytes there are now'),
});
export const ExecPipeResult = z.object({
  command_id: z.string(),
  stream: OutputStream,
  offset: z.number().int().describe('offset of the first raw byte that follows (past a dropped middle the asked offset was in)'),
  dropped_bytes: z.number().int().describe('bytes skipped at the start because the middle of the output was dropped (max_output_bytes)'),
});

export const ExecAttachParams = z.strictObject({
  command_id: CommandId,
  from_offset: z
    .union([z.number().int().min(0), z.strictObject({ stdout: z.number().int().min(0).optional(), stderr: z.number().int().min(0).optional() })])
    .optional()
    .describe('replay from this byte offset (one number for both streams, or per stream); default: from the start'),
  encoding: Encoding.optional(),
});

export const ExecWaitParams = z.strictObject({
  command_id: CommandId,
  timeout_s: Seconds.optional().describe('give up (COMMAND_TIMEOUT) after this long; default: wait until it ends'),
  encoding: Encoding.optional(),
  raw_output: RawOutputParam,
});

export const ExecInputParams = z
  .strictObject({
    command_id: CommandId,
    data: z.string().optional(),
    encoding: Encoding.optional(),
    eof: z.boolean().optional().describe('close stdin after writing'),
  })
  .refine((p) => p.data !== undefined || p.eof, { message: 'give `data`, `eof: true`, or both', path: ['data'] });
export const ExecInputResult = z.object({ command_id: z.string(), bytes_written: z.number().int(), stdin_open: z.boolean() });

export const SignalName = z
  .string()
  .regex(/^(SIG)?[A-Z0-9]+$/, { message: 'a signal name such as SIGINT, SIGTERM, SIGKILL, SIGUSR1' })
  .describe('signal name, e.g. SIGINT');
export const ExecSignalParams = z.strictObject({ command_id: CommandId, signal: SignalName });
export const ExecSignalResult = z.object({
  command_id: z.string(),
  signal: z.string(),
  delivered: z
    .number()
    .int()
    .describe(
      "the processes of the tree signalled, each once (the host tier signals the command's process group as a whole, so a child forked meanwhile gets it too, then each process of the tree that left the group)",
    ),
});

export const ExecCancelParams = z
  .strictObject({
    command_id: CommandId.optional(),
    session_id: z.string().min(1).optional().describe('cancel every command of this session that runs, or whose start is under way (the call waits for that start)'),
  })
  .refine((p) => (p.command_id === undefined) !== (p.session_id === undefined), {
    message: 'give exactly one of `command_id` or `session_id`',
    path: ['command_id'],
  });
export const ExecCancelResult = z.object({ cancelled: z.array(z.string()).describe('ids of the commands cancelled, each ended by the time of the answer') });

export const ExecResizeParams = z.strictObject({
  command_id: CommandId,
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});
export const ExecResizeResult = z.object({ command_id: z.string(), cols: z.number().int(), rows: z.number().int() });

/** Events of exec.stream / exec.attach (PROTOCOL §6). */
export const STREAM_EVENTS = ['stdout', 'stderr', 'gap', 'exit', 'error'] as const;

export const ExecResult = z.object({
  command_id: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  encoding: Encoding,
  exit_code: z
    .number()
    .int()
    .nullable()
    .describe(
      'exit status, or 128+N when killed by signal N (as a shell reports it; `-1` in exec.run under `--compat claw-core`); `signal` then names the signal and `timed_out` says whether trl sent it for a timeout',
    ),
  signal: z.string().nullable().describe('name of the signal that killed the command, e.g. SIGKILL'),
  duration_ms: z.number().int().describe('whole milliseconds'),
  timed_out: z.boolean(),
  idle_timed_out: z.boolean().describe('killed because it printed nothing for idle_timeout_s'),
  oom_killed: z.boolean().describe("the kernel's OOM killer killed a process of the session while the command ran (memory_bytes limit)"),
  stdout_truncated_bytes: z
    .number()
    .int()
    .describe('bytes dropped from the middle of stdout (max_output_bytes); in utf8 the cut is marked in the text by a line `[trl: N bytes of output left out here …]`'),
  stderr_truncated_bytes: z.number().int().describe('the same for stderr'),
  stdout_invalid_utf8: z.boolean().describe('utf8 only: stdout held bytes that are not UTF-8, shown as U+FFFD (read it as base64 for the exact bytes)'),
  stderr_invalid_utf8: z.boolean().describe('the same for stderr'),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  working_dir: z.string().describe('the session cwd after the command'),
  running: z.boolean(),
  raw_output: z
    .object({ stdout: z.number().int(), stderr: z.number().int() })
    .optional()
    .describe("with `raw_output` only: how many bytes of stdout, then of stderr, follow the answer's line (see exec.run's `raw_output`)"),
  fd3: z
    .string()
    .nullable()
    .optional()
    .describe(`exec.stream with \`fd3\` only: what the program wrote on fd 3, base64; null when it wrote nothing, was killed, or wrote more than ${MAX_FD3_BYTES} bytes`),
});
export type ExecResult = z.infer<typeof ExecResult>;

export { CommandId };
