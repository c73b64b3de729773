import { z } from 'zod';
import { AnyPath, CommandId, Encoding, EnvMap, SessionId } from './common.js';

/** Parameters shared by exec.run, exec.stream and exec.start (PROTOCOL §6). */
export const execCommonShape = {
  session_id: SessionId.optional().describe('omitted: a fresh ephemeral session, destroyed when the command ends'),
  command: z.string().min(1).optional().describe('run as <shell> -c <command>'),
  argv: z.array(z.string()).min(1).optional().describe('exec directly, no shell, no state capture'),
  env: EnvMap.optional().describe('command-level variables, visible to this command only'),
  working_dir: AnyPath.optional().describe('this command only; relative paths resolve against the session cwd'),
  stdin: z.string().optional().describe('data written to stdin, then stdin is closed; default /dev/null'),
  stdin_encoding: Encoding.optional(),
  timeout_s: z.number().min(0).optional().describe('0 = none; on expiry SIGTERM to the tree, grace, SIGKILL'),
  idle_timeout_s: z.number().positive().optional().describe('kill when no output for this long'),
  encoding: Encoding.optional().describe('how output is returned'),
  max_output_bytes: z.number().int().positive().optional().describe('per stream; the middle is dropped'),
  persist_state: z.boolean().optional().describe("take over the shell's final cwd and exported env (default true)"),
  check: z.boolean().optional().describe('non-zero exit -> COMMAND_FAILED'),
} as const;

function commandOrArgv<T extends { command?: string | undefined; argv?: string[] | undefined }>(p: T, ctx: z.RefinementCtx) {
  if ((p.command === undefined) === (p.argv === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of `command` or `argv`', path: ['command'] });
  }
  if (p.argv?.some((a) => a.includes('\0'))) {
    ctx.addIssue({ code: 'custom', message: 'argv entries must not contain a NUL byte', path: ['argv'] });
  }
}

export const ExecRunParams = z.strictObject({ ...execCommonShape }).superRefine(commandOrArgv);
export type ExecRunParams = z.infer<typeof ExecRunParams>;

export const ExecResult = z.object({
  command_id: z.string(),
  stdout: z.string(),
  stderr: z.string(),
  encoding: Encoding,
  exit_code: z.number().int().nullable().describe('exit status, or 128+N when killed by signal N'),
  signal: z.string().nullable().describe('name of the signal that killed the command, e.g. SIGKILL'),
  duration_ms: z.number(),
  timed_out: z.boolean(),
  idle_timed_out: z.boolean().describe('killed because it printed nothing for idle_timeout_s'),
  stdout_truncated_bytes: z.number().int(),
  stderr_truncated_bytes: z.number().int(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
  working_dir: z.string().describe('the session cwd after the command'),
  running: z.boolean(),
});
export type ExecResult = z.infer<typeof ExecResult>;

export { CommandId };
