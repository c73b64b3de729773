import { shareBudget } from './budget.js';
import type { TrlCaller } from './caller.js';
import type { TrackedCommand } from './scope.js';
import { daemonBytes, knownBytes, streamView, type ByteSource, type StreamName } from './stream-view.js';
import type { CommandView } from './tool-schemas.js';

/** Where a command stands (from exec.run, exec.wait or exec.info). */
export interface CommandStatus {
  running: boolean;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number | null;
  stdout_bytes: number;
  stderr_bytes: number;
}

export interface ViewOptions {
  /** Show each stream from these offsets (clamped to what exists). */
  from: Record<StreamName, number>;
  budget: number;
  /** Per stream: `around` for new output (head and tail), `forward` for paging from an offset the model gave. */
  mode: Record<StreamName, 'around' | 'forward'>;
  cwd: string | null;
  /** Exact bytes of a stream from offset 0, when a result already holds them. */
  known?: Partial<Record<StreamName, Buffer>>;
}

/**
 * A command's status and its output from the given offsets, within the
 * budget; the read positions of the tracked command move past what is shown.
 */
export async function commandView(caller: TrlCaller, cmd: TrackedCommand, status: CommandStatus, opts: ViewOptions): Promise<CommandView> {
  const total = { stdout: status.stdout_bytes, stderr: status.stderr_bytes };
  const from = { stdout: Math.min(opts.from.stdout, total.stdout), stderr: Math.min(opts.from.stderr, total.stderr) };
  const share = shareBudget(opts.budget, total.stdout - from.stdout, total.stderr - from.stderr);
  const view = (stream: StreamName) => {
    const known = opts.known?.[stream];
    const source: ByteSource = known ? knownBytes(known) : daemonBytes(caller, cmd.commandId, stream);
    return streamView(source, { commandId: cmd.commandId, stream, from: from[stream], to: total[stream], budget: Math.max(share[stream], 1), open: status.running, mode: opts.mode[stream] });
  };
  const [out, err] = await Promise.all([view('stdout'), view('stderr')]);
  cmd.read.stdout = Math.max(cmd.read.stdout, out.to);
  cmd.read.stderr = Math.max(cmd.read.stderr, err.to);
  const leftOut = [...(out.leftOut ? [{ stream: 'stdout' as const, ...out.leftOut }] : []), ...(err.leftOut ? [{ stream: 'stderr' as const, ...err.leftOut }] : [])];
  return {
    command_id: cmd.commandId,
    session: cmd.session,
    running: status.running,
    exit_code: status.exit_code,
    signal: status.signal,
    timed_out: status.timed_out,
    duration_ms: status.duration_ms,
    cwd: opts.cwd,
    stdout: out.text,
    stderr: err.text,
    stdout_offset: out.from,
    stdout_next_offset: out.to,
    stderr_offset: err.from,
    stderr_next_offset: err.to,
    left_out: leftOut,
    lost_bytes: out.lost + err.lost,
    invalid_utf8: out.lossy || err.lossy,
  };
}

/** Both streams shown as new output (head and tail). */
export const AROUND: Record<StreamName, 'around'> = { stdout: 'around', stderr: 'around' };

/** The status fields of an exec.info answer. */
export function statusOfInfo(info: {
  state: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number | null;
  stdout_bytes: number;
  stderr_bytes: number;
}): CommandStatus {
  return {
    running: info.state === 'running',
    exit_code: info.exit_code,
    signal: info.signal,
    timed_out: info.timed_out,
    duration_ms: info.duration_ms,
    stdout_bytes: info.stdout_bytes,
    stderr_bytes: info.stderr_bytes,
  };
}
