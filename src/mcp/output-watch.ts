import { setTimeout as sleep } from 'node:timers/promises';
import { TrlClientError } from '../client/client-error.js';
import type { TrlCaller } from './caller.js';
import type { StreamName } from './stream-view.js';

/** Why a wait on a command returned. */
export type WaitEnd = 'exit' | 'settled' | 'found' | 'yield' | 'cancelled';

export interface WaitOptions {
  /** Return after this long at most. */
  yieldMs: number;
  /** Return once no output came for this long (counted from the start or the last output). */
  settleMs?: number;
  /** The quiet period only counts once some output past `from` has come (a program still starting up has not settled). */
  settleAfterOutput?: boolean;
  /** Return once this text shows up in output past `from`. */
  waitFor?: string;
  /** Output before these offsets is not looked at (already returned to the model). */
  from: Record<StreamName, number>;
  signal: AbortSignal;
}

const STREAMS: readonly StreamName[] = ['stdout', 'stderr'];
/** While output keeps coming, look again at most this often (a flood must not become a flood of calls). */
const MIN_LOOK_MS = 50;

/**
 * Wait on a running command until it ends, its output settles, a text shows
 * up, the yield time passes or the MCP call is cancelled. Waits are
 * long-polls of exec.output and exec.wait: nothing sleeps in a loop.
 */
export async function waitOnCommand(caller: TrlCaller, commandId: string, opts: WaitOptions): Promise<WaitEnd> {
  const deadline = Date.now() + opts.yieldMs;
  const aborted = abortPromise(opts.signal);
  try {
    if (opts.settleMs === undefined && opts.waitFor === undefined) return await untilExit(caller, commandId, deadline, aborted);
    const scan = new TextScan(caller, commandId, opts.waitFor, opts.from);
    const settling = opts.waitFor === undefined && opts.settleMs !== undefined;
    for (;;) {
      if (opts.signal.aborted) return 'cancelled';
      const info = await caller.call('exec.info', { command_id: commandId });
      if (opts.waitFor !== undefined && (await scan.found())) return 'found';
      if (info.state !== 'running') return 'exit';
      const remaining = deadline - Date.now();
      if (remaining <= 0) return 'yield';
      const seen = info.stdout_bytes > opts.from.stdout || info.stderr_bytes > opts.from.stderr;
      const quietMs = settling && (seen || !opts.settleAfterOutput) ? Math.min(opts.settleMs!, remaining) : remaining;
      const lookedAt = Date.now();
      const changed = await Promise.race([anyNewOutput(caller, commandId, { stdout: info.stdout_bytes, stderr: info.stderr_bytes }, quietMs), aborted]);
      if (changed === 'cancelled') return 'cancelled';
      if (!changed && settling && quietMs === opts.settleMs) return 'settled';
      const since = Date.now() - lookedAt;
      if (changed && since < MIN_LOOK_MS) await sleep(MIN_LOOK_MS - since);
    }
  } finally {
    aborted.dispose();
  }
}

/** No condition but the end: one exec.wait bounded by the deadline. */
async function untilExit(caller: TrlCaller, commandId: string, deadline: number, aborted: Promise<'cancelled'>): Promise<WaitEnd> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return 'yield';
  const waited = caller.call('exec.wait', { command_id: commandId, timeout_s: remaining / 1000 }).then(
    () => 'exit' as const,
    (err: unknown) => {
      if (err instanceof TrlClientError && err.code === 'COMMAND_TIMEOUT') return 'yield' as const;
      throw err;
    },
  );
  return Promise.race([waited, aborted]);
}

/** Resolves true as soon as either stream has bytes past its offset (or the command ends), false after `waitMs` of nothing. */
async function anyNewOutput(caller: TrlCaller, commandId: string, offsets: Record<StreamName, number>, waitMs: number): Promise<boolean> {
  const polls = STREAMS.map((stream) =>
    caller
      .call('exec.output', { command_id: commandId, stream, offset: offsets[stream], max_bytes: 1, wait_ms: Math.max(0, Math.round(waitMs)), encoding: 'base64' })
      .then((r) => r.data.length > 0 || r.eof),
  );
  return new Promise<boolean>((resolve, reject) => {
    let pending = polls.length;
    for (const p of polls) {
      p.then((yes) => {
        if (yes) resolve(true);
        else if (--pending === 0) resolve(false);
      }, reject);
    }
  });
}

/** Looks for a text in output past the offsets, across reads (a match may span two). */
class TextScan {
  private readonly pos: Record<StreamName, number>;
  private readonly carry: Record<StreamName, string> = { stdout: '', stderr: '' };

  constructor(
    private readonly caller: TrlCaller,
    private readonly commandId: string,
    private readonly text: string | undefined,
    from: Record<StreamName, number>,
  ) {
    this.pos = { ...from };
  }

  async found(): Promise<boolean> {
    if (this.text === undefined) return false;
    for (const stream of STREAMS) {
      for (;;) {
        const r = await this.caller.call('exec.output', { command_id: this.commandId, stream, offset: this.pos[stream] });
        if (r.data.length === 0 && r.next_offset === this.pos[stream]) break;
        const window = this.carry[stream] + r.data;
        if (window.includes(this.text)) return true;
        this.carry[stream] = window.slice(-(this.text.length - 1) || window.length);
        this.pos[stream] = r.next_offset;
        if (r.eof || r.data.length === 0) break;
      }
    }
    return false;
  }
}

function abortPromise(signal: AbortSignal): Promise<'cancelled'> & { dispose(): void } {
  let onAbort = () => undefined as void;
  const p = new Promise<'cancelled'>((resolve) => {
    if (signal.aborted) return resolve('cancelled');
    onAbort = () => resolve('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Object.assign(p, { dispose: () => signal.removeEventListener('abort', onAbort) });
}
