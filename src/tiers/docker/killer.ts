import type Docker from 'dockerode';
import { STANDARD_PATH } from './container.js';
import { TAG_VAR } from '../shared/process-table.js';
import type { EngineEvents } from './engine-events.js';
import { execArgv, startExec, type ExecRun } from './exec.js';
import { execLines } from './exec-lines.js';
import type { ControlChannel, FifoDir } from './fifo-dir.js';
import { errorMessage } from '../shared/thrown.js';
import type { Argv } from '../tier.js';

/** Poll interval of the script (`sleep 0.05`). */
const TICK_MS = 50;
/** SIGKILL rounds at most before the script gives up (about 3 s). */
const KILL_ROUNDS = 60;
/** The killer's whole environment: no tag (it must not find itself), the standard PATH for grep, tr, sleep. */
const KILLER_PATH = `PATH=${STANDARD_PATH}`;
/** How long the daemon waits for a kill exec beyond its grace time. */
const EXEC_SLACK_MS = 10_000;

/**
 * Tree kill inside a container, by tracking tag and parent pid, sparing the
 * script and the exec wrappers; POSIX sh, constant, answering on fd 3 with
 * `done` (design: docs/docker-tier.md, "Killing a tree").
 *
 *   $1 needle (`__TRL_TAG=<tag>`)  $2 exact|session  $3 list|signal|terminate
 *   $4 signal name (signal) or grace in ticks (terminate)  $5 SIGKILL rounds
 */
export const KILL_SCRIPT = `
needle=$1 mode=$2 action=$3 arg=$4 rounds=\${5:-0}
self=$$
nl='
'
nap() { sleep 0.05 2>/dev/null || sleep 1; }
# Sets found to " pid pid … ": the live processes in scope, less the spared ones.
inscope() {
  table='' wrappers=' ' holder='' hstart=''
  for s in /proc/[0-9]*/stat; do
    { read -r line <"$s"; } 2>/dev/null || continue
    p=\${s#/proc/}; p=\${p%/stat}
    set -- \${line##*) }
    [ "$1" = Z ] || [ "$p" = "$self" ] || [ "$p" = 1 ] || [ "$2" = "$self" ] && continue
    [ "$2" = 0 ] && wrappers="$wrappers$p "
    if [ "$2" = 1 ] && [ -n "\${20}" ] && { [ -z "$hstart" ] || [ "\${20}" -lt "$hstart" ]; }; then holder=$p hstart=\${20}; fi
    table="$table$p $2$nl"
  done
  tagged=' '
  if [ "$mode" = exact ]; then
    for f in $(grep -l -s -e "$needle" /proc/[0-9]*/environ 2>/dev/null); do
      p=\${f#/proc/}; p=\${p%/environ}
      e=$nl$(tr '\\0' '\\n' <"$f" 2>/dev/null)$nl
      case $e in *"$nl$needle$nl"*) tagged="$tagged$p " ;; esac
    done
  fi
  all=' '
  IFS=$nl
  for row in $table; do
    p=\${row% *}
    if [ "$mode" = exact ]; then
      case $tagged in *" $p "*) all="$all$p " ;; esac
    elif [ "$p" != "$holder" ]; then
      all="$all$p "
    fi
  done
  grew=1
  while [ "$mode" = exact ] && [ $grew = 1 ]; do
    grew=0
    for row in $table; do
      case $all in *" \${row#* } "*) case $all in *" \${row% *} "*) ;; *) all="$all\${row% *} "; grew=1 ;; esac ;; esac
    done
  done
  unset IFS
  found=' '
  for p in $all; do
    case $wrappers in *" $p "*) ;; *) found="$found$p " ;; esac
  done
}
seen=' '
n=0
# hit SIG all|new: signal the processes in scope (new: only those not signalled before)
hit() {
  for p in $found; do
    case $seen in
      *" $p "*) [ "$2" = new ] && continue ;;
      *) seen="$seen$p "; n=$((n + 1)) ;;
    esac
    kill -s "$1" "$p" 2>/dev/null
  done
}
case $action in
  list) inscope; for p in $found; do echo "$p"; done >&3 ;;
  signal) inscope; c=0; for p in $found; do kill -s "$arg" "$p" 2>/dev/null && c=$((c + 1)); done; echo "$c" >&3 ;;
  terminate)
    inscope
    ticks=$arg
    if [ "$ticks" -gt 0 ] && [ "$found" != ' ' ]; then
      hit TERM all; echo "$n" >&3
      while [ "$ticks" -gt 0 ]; do
        nap; inscope
        [ "$found" = ' ' ] && break
        hit TERM new; echo "$n" >&3
        ticks=$((ticks - 1))
      done
    fi
    while [ "$rounds" -gt 0 ]; do
      [ "$found" = ' ' ] && break
      hit KILL all; echo "$n" >&3
      # Look again before the pause: the pause forks (sleep), which a full pids limit refuses
      # until the killed processes are reaped, and a failed fork ends this shell.
      inscope
      [ "$found" = ' ' ] && break
      nap; inscope
      rounds=$((rounds - 1))
    done
    echo "$n" >&3 ;;
esac
echo done >&3
`;

/** The killer could not run to the end (typically no fork left in the pids limit); `partial` is what it answered before. */
export class KillerFailed extends Error {
  constructor(
    message: string,
    readonly partial: string[] = [],
  ) {
    super(message);
  }
}

export type KillAction = { kind: 'list' } | { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'terminate'; graceMs: number };

/** The killer's argv for processes of `tag` (`<instance>:<session>:<command>`), or every command of the session when `commandTag` is null. */
export function killArgv(sessionPrefix: string, commandTag: string | null, action: KillAction): Argv {
  const needle = `${TAG_VAR}=${sessionPrefix}${commandTag ?? ''}`;
  const mode = commandTag === null ? 'session' : 'exact';
  const [verb, arg, rounds] =
    action.kind === 'list'
      ? ['list', '', '0']
      : action.kind === 'signal'
        ? ['signal', action.signal.replace(/^SIG/, ''), '0']
        : ['terminate', String(Math.ceil(action.graceMs / TICK_MS)), String(KILL_ROUNDS)];
  return ['/bin/sh', '-c', KILL_SCRIPT, 'trl-kill', needle, mode, verb, arg, rounds];
}

/** Run the killer in `container` as `user`; resolves to the lines it answered. */
export async function runKiller(container: Docker.Container, opts: { user: string; events: EngineEvents; fifos: FifoDir | null }, killer: Argv, graceMs: number): Promise<string[]> {
  if (opts.fifos === null) {
    // No filesystem shared with the engine: fd 3 (the answers) is the exec's stdout (`exec … 3>&1`), read as it comes.
    let out: { lines: string[]; complete: boolean };
    try {
      const argv = ['/bin/sh', '-c', 'exec "$@" 3>&1', 'trl-kill-out', ...killer];
      out = await execLines(container, { argv, env: [KILLER_PATH], user: opts.user, timeoutMs: graceMs + EXEC_SLACK_MS }, (l) => l.at(-1) === 'done');
    } catch (err) {
      throw new KillerFailed(`the in-container kill exec could not start: ${errorMessage(err)}`);
    }
    if (!out.complete) throw new KillerFailed('the in-container kill exec could not run to the end', out.lines);
    return out.lines.slice(0, -1);
  }
  const fifos = opts.fifos;
  // The whole kill is bounded, the engine's answers included: an engine that stopped answering must not hang it.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KillerFailed('the in-container kill did not finish in time')), graceMs + EXEC_SLACK_MS);
  });
  const chunks: Buffer[] = [];
  /** Set once runKiller returns: what the attempt opens or starts after that is let go at once. */
  let over = false;
  const held: { ctl?: ControlChannel; run?: ExecRun } = {};
  const letGo = () => {
    held.run?.stopWatching();
    held.ctl?.release();
  };
  const attempt = async () => {
    const ctl = (held.ctl = await fifos.open());
    if (over) return letGo();
    ctl.state.on('data', (c: Buffer) => chunks.push(c));
    const answered = new Promise<void>((r) => ctl.state.once('end', r));
    try {
      held.run = await startExec(
        container,
        {
          argv: execArgv({ kind: 'argv', argv: killer }, { state: true, unset: [] }),
          env: [KILLER_PATH],
          controlFifo: ctl.containerPath,
          cwd: '/',
          user: opts.user,
          stdin: false,
          tty: null,
          detach: true,
        },
        opts.events,
      );
    } catch (err) {
      throw new KillerFailed(`the in-container kill exec could not start: ${errorMessage(err)}`);
    }
    if (over) return letGo();
    // A killer that never ran leaves the FIFO without a writer once the daemon lets go of its end.
    void held.run.exitCode.then(() => ctl.release());
    await answered;
  };
  try {
    await Promise.race([attempt(), timeout]);
  } finally {
    over = true;
    clearTimeout(timer);
    letGo();
  }
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  if (lines.at(-1) !== 'done') throw new KillerFailed('the in-container kill exec could not run to the end', lines);
  lines.pop();
  return lines;
}
