import { TAG_VAR } from '../tiers/shared/process-table.js';
import { shellQuote } from '../tiers/shared/shell-quote.js';
import { parseExportP, parseRecords } from './export-parser.js';

/**
 * Persistent cwd and env without a long-lived shell (docs/protocol.md): each command
 * runs in a fresh `<shell> -c <script>`. The script installs an EXIT trap that
 * writes the shell's final cwd, a NUL and its exported variables (less the
 * per-command tracking tag, so that an unchanged state reads the same every
 * time) to fd 3, then evals the user's command in a group with fd 3 closed:
 * the shell keeps its own close-on-exec copy, so no process the user starts
 * can see or write the state pipe, and `exit N` or `set -e` still run the
 * trap. A shell killed by a signal runs no trap, so a killed command changes
 * nothing. The state travels through a pipe only: it never touches disk.
 *
 * dash and busybox ash undo the group's redirection before the trap runs;
 * zsh, mksh, and bash after an `exit` in a function, run it right where the
 * shell stopped, with fd 3 closed. So the group first finds the shell's saved
 * copy of fd 3 (the fd ≥ 10 that is the same pipe as a temporary copy on fd
 * 9), and a trap that finds that copy still open knows it runs inside the
 * group and writes there instead: bash by number, zsh with `print -u` (zsh
 * refuses to redirect from its own descriptors; its children never get them);
 * mksh cannot name fds above 9, so it keeps fd 9 (close-on-exec: ksh opens fds
 * above 2 that way with `exec`) and writes there while fd 9 is still that pipe.
 * Shells told apart at run time: the session shell is only a path, often /bin/sh.
 * zsh runs no EXIT trap at all when `set -e` stops it inside a function: such
 * a command changes nothing, like a killed one.
 */
export const STATE_FD = 3;
/** The temporary copy of the state fd that finds the saved one (mksh: kept, to write to from inside the group). */
const SPARE_FD = 9;

/** z for zsh, k for mksh (and other ksh), empty for the rest. */
const KIND = '${ZSH_VERSION:+z}${KSH_VERSION:+k}';

/** First thing in the group: the number of the shell's saved copy of fd 3, in __trl_n (none without /proc). */
const FIND_SAVED =
  `if [ -d /proc/$$/fd ]; then for __trl_f in /proc/$$/fd/*; do case \${__trl_f##*/} in [1-9][0-9]*) ` +
  `[ "$__trl_f" -ef /proc/$$/fd/${SPARE_FD} ] 2>/dev/null && __trl_n=\${__trl_f##*/} ;; esac; done; unset __trl_f; fi`;

/** True in the trap when it runs inside the group, where fd 3 is closed (or the command's own). */
const INSIDE = '[ -n "${__trl_n-}" ] && [ -e "/proc/$$/fd/$__trl_n" ]';

/** bash, dash, busybox and other POSIX shells. */
const POSIX_DUMP = `{ pwd; printf '\\0'; export -p; }`;
const POSIX_TRAP = `{ set +x; } 2>/dev/null; unset ${TAG_VAR}; ` + `if ${INSIDE}; then ${POSIX_DUMP} >&"$__trl_n"; else ${POSIX_DUMP} >&${STATE_FD}; fi`;

/** mksh (and other ksh): `printf` is not a builtin there, `print` is; its xtrace ignores a redirected stderr. */
const KSH_DUMP = `{ pwd; print -n '\\0'; export -p; }`;
const KSH_TRAP = `set +x; unset ${TAG_VAR}; if ${INSIDE}; then ` + `[ /proc/$$/fd/${SPARE_FD} -ef "/proc/$$/fd/$__trl_n" ] && ${KSH_DUMP} >&${SPARE_FD}; ` + `else ${KSH_DUMP} >&${STATE_FD}; fi`;

/**
 * zsh reports NUL-terminated NAME=value records of its exported scalars
 * (its `export -p` has `export -T PATH path=( … )` and `\M-` escapes), built
 * without a fork; `emulate -L` keeps options a zshenv may set out of it.
 */
const ZSH_TRAP =
  `{ set +x; } 2>/dev/null; unset ${TAG_VAR}; () { emulate -L zsh; local __trl_fd=${STATE_FD} __trl_k __trl_out; ` +
  `if ${INSIDE}; then __trl_fd=$__trl_n; fi; __trl_out=$PWD$'\\n\\0'; ` +
  `for __trl_k in \${(k)parameters[(R)*export*]}; do ` +
  `[[ $parameters[$__trl_k] == (scalar|integer|float)* ]] && __trl_out+=$__trl_k=\${(P)__trl_k}$'\\0'; done; ` +
  `print -rn -u $__trl_fd -- $__trl_out 2>/dev/null; }`;

/**
 * zsh sets HOME and LOGNAME when the environment has none and always resets
 * OLDPWD to the cwd: make the command see (and report) the environment it was
 * given, as the other shells do — zsh's own HOME and LOGNAME stay unexported,
 * OLDPWD is the session's (so `cd -` works on from the last command), or unset.
 */
const ZSH_PRELUDE =
  `() { emulate -L zsh; local -a __trl_e; [[ -r /proc/$$/environ ]] || return 0; __trl_e=( \${(0)"$(</proc/$$/environ)"} ); ` +
  `(( \${__trl_e[(I)HOME=*]} )) || typeset -g +x HOME; (( \${__trl_e[(I)LOGNAME=*]} )) || typeset -g +x LOGNAME; ` +
  `if (( \${__trl_e[(I)OLDPWD=*]} )); then OLDPWD=\${\${__trl_e[(r)OLDPWD=*]}#OLDPWD=}; else unset OLDPWD; fi; }`;

export function captureScript(command: string): string {
  return (
    `exec ${SPARE_FD}>&${STATE_FD}\n` +
    `case ${KIND} in\n` +
    `z) eval ${shellQuote(ZSH_PRELUDE)}; trap ${shellQuote(ZSH_TRAP)} EXIT ;;\n` +
    `k) trap ${shellQuote(KSH_TRAP)} EXIT ;;\n` +
    `*) trap ${shellQuote(POSIX_TRAP)} EXIT ;;\n` +
    `esac\n` +
    `{ ${FIND_SAVED}; case ${KIND} in k) ;; *) exec ${SPARE_FD}>&- ;; esac\n` +
    `eval ${shellQuote(command)}\n` +
    `} ${STATE_FD}>&-\n`
  );
}

export interface CapturedState {
  cwd: string;
  env: Map<string, string>;
}

/**
 * Parse what the trap wrote: the cwd, a NUL, then `export -p` output or (zsh)
 * NUL-terminated records. Null when the shell did not get to write it (exec'd
 * away, trap replaced, killed).
 */
export function parseCapturedState(raw: Buffer): CapturedState | null {
  const nul = raw.indexOf(0);
  if (nul < 0) return null;
  let cwd = raw.subarray(0, nul).toString('utf8');
  if (cwd.endsWith('\n')) cwd = cwd.slice(0, -1);
  if (!cwd.startsWith('/')) return null;
  const rest = raw.subarray(nul + 1);
  const env = rest.includes(0) ? parseRecords(rest) : parseExportP(rest);
  if (env === null) return null;
  return { cwd, env };
}
