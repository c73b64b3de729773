import { CommanderError, type Command } from 'commander';
import type { ParamsOf, ResultOf } from '../protocol/methods.js';
import { collectEnv, parseSeconds } from './arg-parsers.js';
import { addClientOptions, runWithClient, type ClientOptions } from './connect.js';
import { EXIT } from './exit-codes.js';
import { printJson, warn } from './output.js';
import { readAllStdin } from './read-stdin.js';
import { writeBytes } from './write-bytes.js';

interface ExecOptions extends ClientOptions {
  session?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeout?: number;
  stdin?: boolean;
}

type ExecResult = ResultOf<'exec.run'>;

const HELP_AFTER = `
With one argument, CMD is a shell command line run by the session's shell
(\`<shell> -c CMD\`; cd and exported variables persist in the session). With
several, they are run directly as an argv, without a shell.

Standard output and error are written exactly as the command produced them
(binary-safe). If the daemon dropped the middle of a stream (max_output_bytes),
a notice says how many bytes went missing.

Exit status:
  N     the command's own exit status
  128+N the command was killed by signal N
  124   the command ran into its timeout (as coreutils timeout)
  125   trl itself failed: bad flags, no daemon, or an error from the daemon

Examples:
  trl exec 'ls -l | wc -l'
  trl exec -s "$S" -- make -j4 test
  tar c dir | trl exec --stdin -- sh -c 'tar t | wc -l'`;

/** `trl exec [options] -- CMD...` over `exec.run`. */
export function registerExecCommand(program: Command): void {
  const cmd = program
    .command('exec')
    .description("run a command through the daemon; print its output and exit with its status")
    .usage('[options] [--] CMD...')
    .argument('<CMD...>', 'one shell command line, or a program and its arguments')
    .option('-s, --session <id>', 'run in this session (default: a fresh session, destroyed afterwards)')
    .option('--cwd <dir>', "this command's working directory, relative to the session's cwd (without -s: the daemon's default_working_dir)")
    .option('-e, --env <NAME=VALUE>', 'variable for this command only (repeatable)', collectEnv)
    .option('--timeout <seconds>', 'kill the command after this long (0 = none; default: the session timeout)', parseSeconds)
    .option('--stdin', "send all of trl's standard input to the command (default: /dev/null)")
    .passThroughOptions()
    .addHelpText('after', HELP_AFTER)
    // Like `docker run`: trl's own failures exit 125 so they cannot be taken for the command's status.
    .exitOverride((err) => {
      throw err.exitCode === 0 ? err : new CommanderError(EXIT.EXEC_TRL_FAILED, err.code, err.message);
    });
  addClientOptions(cmd);

  cmd.action(async (words: string[], opts: ExecOptions) => {
    await runWithClient(
      opts,
      async (client) => {
        const params: ParamsOf<'exec.run'> = words.length === 1 ? { command: words[0] as string } : { argv: words };
        if (opts.session !== undefined) params.session_id = opts.session;
        if (opts.cwd !== undefined) params.working_dir = opts.cwd;
        if (opts.env !== undefined) params.env = opts.env;
        if (opts.timeout !== undefined) params.timeout_s = opts.timeout;
        if (opts.stdin) {
          params.stdin = (await readAllStdin()).toString('base64');
          params.stdin_encoding = 'base64';
        }
        // --json keeps the output readable as text in the JSON; otherwise exact bytes.
        params.encoding = opts.json ? 'utf8' : 'base64';
        const result = await client.call('exec.run', params);
        if (opts.json) printJson(result);
        else await writeResult(result);
        return exitStatusOf(result);
      },
      EXIT.EXEC_TRL_FAILED,
    );
  });
}

async function writeResult(r: ExecResult): Promise<void> {
  // We asked for base64, so the bytes are exact.
  await writeBytes(process.stdout, Buffer.from(r.stdout, 'base64'));
  await writeBytes(process.stderr, Buffer.from(r.stderr, 'base64'));
  if (r.stdout_truncated_bytes > 0) warn(`${r.stdout_truncated_bytes} bytes of stdout were dropped from the middle (max_output_bytes)`);
  if (r.stderr_truncated_bytes > 0) warn(`${r.stderr_truncated_bytes} bytes of stderr were dropped from the middle (max_output_bytes)`);
  if (r.timed_out) warn(`the command timed out after ${(r.duration_ms / 1000).toFixed(1)}s and was killed`);
  else if (r.idle_timed_out) warn('the command printed nothing for its idle timeout and was killed');
}

/** The command's status; 124 for a timeout (as coreutils timeout). */
function exitStatusOf(r: ExecResult): number {
  if (r.timed_out || r.idle_timed_out) return EXIT.EXEC_TIMED_OUT;
  if (r.exit_code === null) {
    warn('the daemon returned no exit status for the command');
    return EXIT.EXEC_TRL_FAILED;
  }
  return r.exit_code;
}
