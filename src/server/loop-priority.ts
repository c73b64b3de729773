import { libc as loadLibc } from '../tiers/shared/libc.js';
import { errorMessage } from '../tiers/shared/thrown.js';

/** The event loop thread's nice value, where the daemon may lower it (root, CAP_SYS_NICE): about 3 times a nice-0 thread's CPU share. */
export const LOOP_NICE = -5;
const SCHED_OTHER = 0;
const SCHED_RESET_ON_FORK = 0x40000000;
const PRIO_PROCESS = 0;

export interface LoopPriority {
  /** The event loop thread's nice value now. */
  nice: number;
  /** Why it could not be lowered, when it could not. */
  problem: string | null;
}

/**
 * Commands that keep every core busy (a build, a test suite, a fork bomb held
 * by its limits) compete with the daemon for CPU: at the same priority its
 * event loop waits behind them, and a ping or an exec.cancel answers late
 * (tens of ms on 2 cores under 8 busy clients). The loop thread, only it,
 * gets nice LOOP_NICE, with SCHED_RESET_ON_FORK set first: every process and
 * thread it starts afterwards (commands, sandboxes, worker threads) starts
 * at nice 0, as before — commands never inherit the daemon's priority. The
 * threads that already exist (V8's, libuv's, koffi's, where posix_spawn
 * runs) keep nice 0 too. Needs CAP_SYS_NICE for a negative nice; without it
 * nothing changes and `problem` says why.
 */
export function raiseLoopPriority(): LoopPriority {
  if (process.platform !== 'linux') return { nice: 0, problem: `not on Linux (${process.platform})` };
  try {
    const { koffi, lib: libc } = loadLibc();
    const param = koffi.struct('trl_sched_param', { sched_priority: 'int' });
    void param;
    const setscheduler = libc.func('int sched_setscheduler(int, int, const trl_sched_param *)') as (pid: number, policy: number, p: { sched_priority: number }) => number;
    const gettid = libc.func('int gettid()') as () => number;
    const setpriority = libc.func('int setpriority(int, unsigned int, int)') as (which: number, who: number, prio: number) => number;
    const getpriority = libc.func('int getpriority(int, unsigned int)') as (which: number, who: number) => number;
    // The reset flag before the nice: from then on no child inherits a negative nice (sched(7)).
    if (setscheduler(0, SCHED_OTHER | SCHED_RESET_ON_FORK, { sched_priority: 0 }) !== 0) {
      return { nice: 0, problem: `sched_setscheduler(SCHED_RESET_ON_FORK) failed (errno ${koffi.errno()})` };
    }
    const tid = gettid();
    if (setpriority(PRIO_PROCESS, tid, LOOP_NICE) !== 0) {
      return { nice: getpriority(PRIO_PROCESS, tid), problem: `setpriority refused (errno ${koffi.errno()}): a nice below 0 needs root or CAP_SYS_NICE` };
    }
    return { nice: getpriority(PRIO_PROCESS, tid), problem: null };
  } catch (err) {
    return { nice: 0, problem: `cannot call libc (${errorMessage(err)})` };
  }
}
