import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Command } from '../runtime/command.js';
import type { Engine } from '../runtime/engine.js';
import type { Connection } from './connection.js';
import { StreamPump } from './stream-pump.js';
import { RawPump } from './raw-pump.js';
import { TrlError } from '../protocol/errors.js';

const RAW_ELSEWHERE =
  'exec.pipe is for the Unix socket (it turns the connection into raw bytes); over HTTP read the raw bytes with GET /v1/sessions/{session_id}/commands/{command_id}/output, or use exec.stream/exec.output here';
import { WatchPump } from './watch-pump.js';
import { checkRawOutput, withRawOutput } from './raw-output.js';

/** A streaming method's answer: the response data, then `start` once the response is on the wire. */
export class Streamed<T> {
  constructor(
    readonly data: T,
    /** Begin the stream; `onEnd` is called once when it is over (exit, error, or the connection closed). */
    readonly start: (onEnd?: () => void) => void,
  ) {}
}

type Handler<M extends MethodName> = (
  params: ParamsOf<M> & Record<string, never>,
  runtime: Engine,
  conn: Connection,
) => Promise<ResultOf<M> | Streamed<ResultOf<M>>> | ResultOf<M> | Streamed<ResultOf<M>>;
export type Handlers = { [M in MethodName]: Handler<M> };

function openStream(rt: Engine, cmd: Command, conn: Connection, encoding: 'utf8' | 'base64' | undefined, from = { stdout: 0, stderr: 0 }) {
  const pump = new StreamPump(cmd, conn, encoding ?? 'utf8', from, () => rt.commandWorkingDir(cmd));
  return new Streamed({ stream_id: pump.streamId, command_id: cmd.id, pid: cmd.pid }, (onEnd) => pump.start(onEnd));
}

/** One handler per method: validated params in, the runtime call, result out. */
export const handlers: Handlers = {
  'system.ping': (_p, rt) => ({ uptime_s: rt.uptime(), version: PROTOCOL_VERSION }),
  'system.stats': (_p, rt) => rt.stats(),
  'system.info': (_p, rt) => rt.info(),
  'session.create': async (p, rt) => rt.sessionInfo(await rt.createSession(p)),
  'session.list': (_p, rt) => ({ sessions: rt.listSessions() }),
  'session.info': (p, rt) => rt.sessionInfo(rt.getSession(p.session_id), true),
  'session.update': (p, rt) => rt.updateSession(p),
  'session.destroy': (p, rt) => {
    rt.getSession(p.session_id);
    return rt.destroySession(p.session_id, p.force ?? false);
  },
  'exec.run': async ({ raw_output: raw, ...p }, rt, conn) => {
    checkRawOutput(raw, conn);
    const result = await rt.run(p);
    return raw ? withRawOutput(result) : result;
  },
  'exec.stream': async (p, rt, conn) => openStream(rt, await rt.streamCommand(p), conn, p.encoding),
  'exec.start': (p, rt) => rt.start(p),
  'exec.list': (p, rt) => ({ commands: rt.listCommands(p.session_id) }),
  'exec.info': (p, rt) => rt.commandInfo(p.command_id),
  'exec.output': (p, rt) => rt.output(p),
  'exec.pipe': (p, rt, conn) => {
    const cmd = rt.getCommand(p.command_id);
    const sink = conn.openRaw?.() ?? RAW_ELSEWHERE;
    if (typeof sink === 'string') throw new TrlError('INVALID_PARAMS', sink);
    const pump = new RawPump(cmd, p.stream ?? 'stdout', p.offset ?? 0, p.follow ?? true);
    return new Streamed({ command_id: cmd.id, stream: pump.stream, offset: pump.startOffset, dropped_bytes: pump.droppedBytes }, (onEnd) => pump.start(sink, onEnd));
  },
  'exec.attach': (p, rt, conn) => {
    const from = typeof p.from_offset === 'number' ? { stdout: p.from_offset, stderr: p.from_offset } : { stdout: p.from_offset?.stdout ?? 0, stderr: p.from_offset?.stderr ?? 0 };
    return openStream(rt, rt.getCommand(p.command_id), conn, p.encoding, from);
  },
  'exec.wait': async (p, rt, conn) => {
    checkRawOutput(p.raw_output, conn);
    const result = await rt.wait(p.command_id, p.timeout_s, p.encoding ?? 'utf8');
    return p.raw_output ? withRawOutput(result) : result;
  },
  'exec.input': (p, rt) => rt.input(p),
  'exec.signal': (p, rt) => rt.signal(p.command_id, p.signal),
  'exec.cancel': (p, rt) => rt.cancel(p),
  'exec.resize': (p, rt) => rt.resize(p.command_id, p.cols, p.rows),
  'fs.read': (p, rt) => rt.readFile(p),
  'fs.write': (p, rt) => rt.writeFile(p),
  'fs.edit': (p, rt) => rt.editFile(p),
  'fs.list': (p, rt) => rt.listFiles(p),
  'fs.search': (p, rt) => rt.searchFiles(p),
  'fs.grep': (p, rt) => rt.grepFiles(p),
  'fs.stat': (p, rt) => rt.statFile(p),
  'fs.mkdir': (p, rt) => rt.makeDirectory(p),
  'fs.remove': (p, rt) => rt.removeFile(p),
  'fs.move': (p, rt) => rt.moveFile(p),
  'fs.watch': async (p, rt, conn) => {
    const pump = new WatchPump(conn);
    const watch = await rt.watchFiles(p, pump.streamId, pump);
    pump.stopWatch = () => watch.stop();
    return new Streamed({ stream_id: pump.streamId, path: watch.path }, (onEnd) => pump.start(onEnd));
  },
  'fs.unwatch': (p, rt) => ({ stream_id: p.stream_id, stopped: rt.unwatchFiles(p.stream_id) }),
};
