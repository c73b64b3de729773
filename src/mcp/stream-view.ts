import { utf8CompletePrefix } from '../runtime/utf8.js';
import { planCut } from './budget.js';
import type { TrlCaller } from './caller.js';

export type StreamName = 'stdout' | 'stderr';

/** Bytes of a stream starting at `offset` (the daemon may have dropped what lies between two segments). */
export interface Segment {
  offset: number;
  data: Buffer;
}

/** Where a view's bytes come from: a result already in hand, or the daemon's buffer. */
export interface ByteSource {
  read(from: number, to: number): Promise<Segment[]>;
}

/** Exact bytes of a stream from offset 0 (a result that holds all of it). */
export function knownBytes(bytes: Buffer): ByteSource {
  return { read: async (from, to) => [{ offset: from, data: bytes.subarray(from, to) }] };
}

/** The most exec.output returns in one read. */
const READ_CHUNK = 1024 * 1024;

/** The daemon's retained output of a command (exec.output, base64 so that offsets stay exact). */
export function daemonBytes(caller: TrlCaller, commandId: string, stream: StreamName): ByteSource {
  return {
    async read(from, to) {
      const segments: Segment[] = [];
      let pos = from;
      while (pos < to) {
        const r = await caller.call('exec.output', { command_id: commandId, stream, offset: pos, max_bytes: Math.min(READ_CHUNK, to - pos), encoding: 'base64' });
        const data = Buffer.from(r.data, 'base64');
        if (data.length === 0) break;
        const end = Math.min(to, r.offset + data.length);
        segments.push({ offset: r.offset, data: data.subarray(0, end - r.offset) });
        pos = end;
      }
      return segments;
    },
  };
}

/** What one call shows of a stream, and how to read what it does not. */
export interface StreamView {
  text: string;
  /** First byte covered. */
  from: number;
  /** The byte after the last one covered: where the next read starts. */
  to: number;
  /** The middle the budget left out, readable by offset; null when the whole range is shown. */
  leftOut: { from: number; to: number } | null;
  /** Bytes of the range the daemon no longer holds (its max_output_bytes dropped them). */
  lost: number;
  /** Invalid UTF-8 was shown as U+FFFD. */
  lossy: boolean;
}

export interface ViewRequest {
  commandId: string;
  stream: StreamName;
  from: number;
  to: number;
  budget: number;
  /** More may still be written: a character cut at `to` is left for the next read. */
  open: boolean;
  /**
   * `around` (new output): the head and the tail, the middle left out.
   * `forward` (paging from an offset the model gave): as much as fits from
   * `from` on, and where to continue.
   */
  mode: 'around' | 'forward';
}

/**
 * Bytes [from, to) of a stream as text within `budget` bytes: whole, or its
 * head and tail around one line saying exactly how many bytes were left out
 * and the offset to read them from. Cuts fall on character boundaries.
 */
export async function streamView(source: ByteSource, req: ViewRequest): Promise<StreamView> {
  const { from, to } = req;
  if (to <= from) return { text: '', from, to: Math.max(from, to), leftOut: null, lost: 0, lossy: false };
  const plan = planCut(from, to, req.budget);
  if (plan.headEnd >= to) {
    const segments = await source.read(from, to);
    const end = req.open ? trimEnd(segments, from) : to;
    return { ...render(req, from, segments, end), from, to: end, leftOut: null };
  }
  if (req.mode === 'forward') {
    const page = await source.read(from, from + req.budget);
    const end = trimEnd(page, from);
    const shown = render(req, from, page, end);
    const rest = { from: end, to };
    return { ...shown, text: shown.text + moreLine(req.commandId, req.stream, rest), from, to: end, leftOut: rest };
  }
  const [head, tail] = await Promise.all([source.read(from, plan.headEnd), source.read(plan.tailStart, to)]);
  const headEnd = trimEnd(head, plan.headEnd);
  const tailStart = trimStart(tail, plan.tailStart);
  const end = req.open ? trimEnd(tail, to) : to;
  const a = render(req, from, head, headEnd);
  const b = render(req, tailStart, tail, end);
  const leftOut = { from: headEnd, to: tailStart };
  return {
    text: a.text + leftOutLine(req.commandId, req.stream, leftOut) + b.text,
    from,
    to: end,
    leftOut,
    lost: a.lost + b.lost,
    lossy: a.lossy || b.lossy,
  };
}

/** Where the text of the segments can end without splitting a character (the last segment is shortened to it). */
function trimEnd(segments: Segment[], fallback: number): number {
  const last = segments[segments.length - 1];
  if (!last) return fallback;
  last.data = last.data.subarray(0, utf8CompletePrefix(last.data));
  return last.offset + last.data.length;
}

/** Skip the continuation bytes of a character the cut split (at most 3). */
function trimStart(segments: Segment[], fallback: number): number {
  const first = segments[0];
  if (!first) return fallback;
  let skip = 0;
  while (skip < 3 && skip < first.data.length && (first.data[skip]! & 0xc0) === 0x80) skip++;
  first.data = first.data.subarray(skip);
  first.offset += skip;
  return first.offset;
}

const strict = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer): { text: string; lossy: boolean } {
  try {
    return { text: strict.decode(bytes), lossy: false };
  } catch {
    return { text: bytes.toString('utf8'), lossy: true };
  }
}

/** The segments' text between `from` and `end`, a line marking each stretch the daemon dropped. */
function render(req: ViewRequest, from: number, segments: Segment[], end: number): { text: string; lost: number; lossy: boolean } {
  let text = '';
  let pos = from;
  let lost = 0;
  let lossy = false;
  for (const s of segments) {
    if (s.offset >= end) break;
    if (s.offset > pos) {
      lost += s.offset - pos;
      text += lostLine(req.stream, s.offset - pos);
    }
    const d = decode(s.data.subarray(0, end - s.offset));
    text += d.text;
    lossy ||= d.lossy;
    pos = s.offset + Math.min(s.data.length, end - s.offset);
  }
  if (pos < end) {
    lost += end - pos;
    text += lostLine(req.stream, end - pos);
  }
  return { text, lost, lossy };
}

function leftOutLine(commandId: string, stream: StreamName, r: { from: number; to: number }): string {
  return `\n[trl: ${r.to - r.from} bytes of ${stream} left out here (bytes ${r.from} to ${r.to}); read them with output {"command_id": "${commandId}", "${stream}_offset": ${r.from}}]\n`;
}

function moreLine(commandId: string, stream: StreamName, r: { from: number; to: number }): string {
  return `\n[trl: ${r.to - r.from} more bytes of ${stream} after this (bytes ${r.from} to ${r.to}); continue with output {"command_id": "${commandId}", "${stream}_offset": ${r.from}}]\n`;
}

function lostLine(stream: StreamName, bytes: number): string {
  return `\n[trl: ${bytes} bytes of ${stream} are gone here: the daemon keeps the head and the tail of each stream (max_output_bytes)]\n`;
}
