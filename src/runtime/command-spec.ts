import { resolve as resolvePath } from 'node:path';
import { profileOf } from '../compat/profile.js';
import type { Config } from '../config/config-schema.js';
import { TrlError } from '../protocol/errors.js';
import type { ExecStreamParams } from '../protocol/exec.js';
import { invalidParam, requireDirectory, resolveProgram } from './checks.js';
import type { CommandSpec } from './command.js';
import type { Session } from './session.js';
import { redactText } from './redactor.js';
import { secretValues } from './secrets.js';
import { captureScript } from './state-capture.js';

/**
 * Turn exec.* parameters into a command for `session`: validate them against
 * the daemon's limits, merge the environment (runtime → session → command),
 * and build the program (the session shell with state capture, or argv).
 */
export function commandSpec(session: Session, params: ExecStreamParams, config: Config, background: boolean): CommandSpec {
  const stdin = params.stdin === undefined ? null : Buffer.from(params.stdin, params.stdin_encoding ?? 'utf8');
  if (stdin && stdin.length > config.max_stdin_bytes) {
    throw invalidParam(
      'stdin',
      `${stdin.length} bytes is over the stdin limit of ${config.max_stdin_bytes} bytes (max_stdin_bytes); write larger input to a file, or use stdin_open and exec.input in pieces`,
    );
  }
  const maxOut = params.max_output_bytes ?? session.limits.max_output_bytes;
  if (maxOut > config.max_output_bytes) {
    throw invalidParam('max_output_bytes', `${maxOut} is above the daemon maximum ${config.max_output_bytes}; pass at most that`);
  }
  const cwd = params.working_dir === undefined ? session.cwd : resolvePath(session.cwd, params.working_dir);
  const env: Record<string, string> = { ...session.envRecord(), ...(params.env ?? {}), PWD: cwd };
  const explicit = new Set([...session.secretKeys, ...(params.secret_keys ?? [])]);
  const secrets = secretValues(env, explicit);
  // Error messages echo paths the caller gave: never with a secret value in them.
  // A tier whose paths are not this machine's checks it where its commands run (command-launch.ts).
  if (params.working_dir !== undefined && !session.tierSession?.directoryKind) requireDirectory('working_dir', cwd, (t) => redactText(t, secrets));
  if (params.pty && env.TERM === undefined) env.TERM = 'xterm-256color';

  // Background and terminal commands never change the session: no state capture.
  const profile = profileOf(config);
  const persist = (params.persist_state ?? profile.persistState) && params.command !== undefined && !background && !params.pty;
  let program: CommandSpec['program'];
  if (params.command !== undefined && !persist && !params.pty && profile.shellAsProgram) {
    // No shell code of trl's before the command: any executable can be the shell, as `<shell> -c <command>`.
    program = { kind: 'argv', argv: [session.shell, '-c', params.command] };
  } else if (params.command !== undefined) {
    // Under a terminal the shell runs its command as a job (set -m), as an interactive shell does: a
    // Ctrl-C reaches that job alone, and the shell ends by it only if the job did (a program that
    // handles the interrupt and exits 3 makes the command exit 3).
    const script = persist ? captureScript(params.command) : params.pty ? `set -m\n${params.command}` : params.command;
    program = { kind: 'shell', shell: session.shell, script };
  } else {
    // The schema gives a non-empty argv whenever there is no command.
    const [file, ...args] = params.argv ?? [];
    if (file === undefined) throw new TrlError('INVALID_PARAMS', 'give exactly one of `command` or `argv`');
    const resolved = resolveProgram(file, env.PATH, cwd);
    if (!resolved) {
      const name = redactText(file, secrets);
      throw new TrlError('SPAWN_FAILED', `program '${name}' was not found or is not executable in the session's PATH; pass an absolute path or fix PATH`, { program: name });
    }
    program = { kind: 'argv', argv: [resolved, ...args] };
  }
  // A background command (a server, a watcher) has no timeout unless given one: the session's idle and TTL rules bound it.
  const timeoutS = params.timeout_s ?? (background ? 0 : session.timeoutS);
  return {
    sessionId: session.id,
    text: params.command ?? params.argv?.join(' ') ?? '',
    background,
    pty: params.pty ?? null,
    // A terminal's keyboard is its input: a PTY command takes exec.input unless told otherwise.
    stdinOpen: params.stdin_open ?? (params.pty !== undefined && params.stdin === undefined),
    program,
    env,
    cwd,
    stdin,
    timeoutMs: timeoutS * 1000,
    idleTimeoutMs: (params.idle_timeout_s ?? 0) * 1000,
    maxOutputBytes: maxOut,
    capture: persist,
    fd3: params.fd3 === true,
    graceMs: config.kill_grace_s * 1000,
    secrets,
    redact: session.redactOutput,
  };
}
