import { libc as loadLibc, type Libc } from '../tiers/shared/libc.js';
import { errorMessage } from '../tiers/shared/thrown.js';

const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
const RLIMIT_CORE = 4;

export interface Hardening {
  /** The kernel will write no core dump of the daemon (core limit 0, soft and hard). */
  noCoreDumps: boolean;
  /** The daemon is not dumpable: no core even through a pipe handler, and no ptrace or /proc/PID/environ, mem for other processes of its user. */
  notDumpable: boolean;
  /** What failed, when something did. */
  problem: string | null;
}

/**
 * A daemon's memory holds every session's secrets: it must never reach a core
 * file, a crash reporter, or another process of the same user. At start, set
 * the core limit to 0 (soft and hard, so nothing the daemon loads can raise
 * it) and make the process non-dumpable (PR_SET_DUMPABLE 0), which also
 * covers core_pattern pipe handlers that ignore the limit and closes
 * /proc/PID/mem, environ and ptrace to other processes of the user. Node has
 * neither call, so they go through koffi's FFI (prebuilt binaries in the
 * package), loaded only here.
 */
export function hardenProcess(): Hardening {
  if (process.platform !== 'linux') return { noCoreDumps: false, notDumpable: false, problem: `not on Linux (${process.platform})` };
  let loaded: Libc;
  try {
    loaded = loadLibc();
  } catch (err) {
    return { noCoreDumps: false, notDumpable: false, problem: `cannot load koffi (${errorMessage(err)}): reinstall trl's dependencies (npm ci)` };
  }
  try {
    const { koffi, lib: libc } = loaded;
    const rlimit = koffi.struct('trl_rlimit', { cur: 'unsigned long', max: 'unsigned long' });
    const setrlimit = libc.func('int setrlimit(int, const trl_rlimit *)');
    const prctl = libc.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
    void rlimit;
    const noCoreDumps = setrlimit(RLIMIT_CORE, { cur: 0, max: 0 }) === 0;
    const notDumpable = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) === 0;
    return { noCoreDumps, notDumpable, problem: noCoreDumps && notDumpable ? null : 'setrlimit or prctl refused' };
  } catch (err) {
    return { noCoreDumps: false, notDumpable: false, problem: `cannot call libc (${errorMessage(err)})` };
  }
}
