import type { Readable } from 'node:stream';
import type { Encoding } from '../protocol/common.js';
import type { CommandInfo, ExecResult, ExecRunParams, ExecStreamParams } from '../protocol/exec.js';
import type { SessionCreateParams, SessionInfo } from '../protocol/session.js';
import type { Command } from './command.js';
import { commandInfo } from './command-info.js';
import { EngineState, type EngineDeps } from './engine-state.js';
import { readOutput, type ReadOutputParams } from './read-output.js';
import { redactError, secretsFor } from './request-secrets.js';
import type { Session } from './session.js';
import { createSession } from './session-create.js';
import { destroySession, expireSessions, shutdown, type Destroyed } from './session-destroy.js';
import { updateSession, type SessionUpdate } from './session-update.js';
import { info, stats, uptime } from './system-status.js';
import { cancel } from './verbs/cancel.js';
import { input, type InputParams } from './verbs/input.js';
import { resize } from './verbs/resize.js';
import { run } from './verbs/run.js';
import { signal } from './verbs/signal.js';
import { start, stream } from './verbs/start.js';
import { wait } from './verbs/wait.js';
import type { FsEditParams, FsReadParams, FsWriteParams } from '../protocol/files.js';
import type { ParamsOf } from '../protocol/methods.js';
import { fsMkdir, fsMove, fsRemove } from './files/change.js';
import { fsEdit } from './files/edit.js';
import { fsRead } from './files/read.js';
import { fsStat } from './files/stat.js';
import { download, upload, type UploadOptions } from './files/transfer.js';
import { fsGrep, fsList, fsSearch } from './files/walk.js';
import { fsUnwatch, fsWatch, type WatchTarget } from './files/watch.js';
import { fsWrite } from './files/write.js';

const HOUSEKEEPING_MS = 1000;

/**
 * Sessions and commands, independent of any transport: every protocol method
 * ends in one call here, each a verb of its own file (sessions: create,
 * update, destroy; commands: run, start, wait, input, signal, cancel,
 * resize; the daemon: stats, info).
 */
export class Engine {
  private readonly st: EngineState;
  private readonly housekeeping: NodeJS.Timeout;

  constructor(deps: EngineDeps) {
    this.st = new EngineState(deps);
    this.housekeeping = setInterval(() => expireSessions(this.st), HOUSEKEEPING_MS);
    this.housekeeping.unref();
  }

  // ---- sessions
  createSession(params: SessionCreateParams, ephemeral = false): Promise<Session> {
    return createSession(this.st, params, ephemeral);
  }
  getSession(id: string): Session {
    return this.st.getSession(id);
  }
  listSessions(): SessionInfo[] {
    return [...this.st.sessions.values()].filter((s) => !s.ephemeral).map((s) => s.info());
  }
  async sessionInfo(s: Session, withUsage = false): Promise<SessionInfo> {
    return s.info(withUsage && s.tierSession ? await s.tierSession.usage() : null);
  }
  updateSession(params: SessionUpdate): SessionInfo {
    return updateSession(this.st, params);
  }
  destroySession(id: string, force = false): Promise<Destroyed> {
    return destroySession(this.st, id, force);
  }

  // ---- commands
  run(params: ExecRunParams): Promise<ExecResult> {
    return run(this.st, params);
  }
  streamCommand(params: ExecStreamParams): Promise<Command> {
    return stream(this.st, params);
  }
  start(params: ExecStreamParams): Promise<{ command_id: string; pid: number }> {
    return start(this.st, params);
  }
  getCommand(id: string): Command {
    return this.st.getCommand(id);
  }
  commandWorkingDir(cmd: Command): string {
    return this.st.commandWorkingDir(cmd);
  }
  /** One session's commands, or (no id) every retained command, oldest first. */
  listCommands(sessionId: string | undefined): CommandInfo[] {
    return (sessionId === undefined ? this.st.registry.all() : [...this.st.getSession(sessionId).commands]).map(commandInfo);
  }
  commandInfo(id: string): CommandInfo {
    return commandInfo(this.st.getCommand(id));
  }
  wait(id: string, timeoutS: number | undefined, encoding: Encoding): Promise<ExecResult> {
    return wait(this.st, id, timeoutS, encoding);
  }
  /** exec.output: bytes from an offset, optionally waiting for them. */
  output(params: ReadOutputParams & { command_id: string }) {
    return readOutput(this.st.getCommand(params.command_id), params);
  }
  input(params: InputParams) {
    return input(this.st, params);
  }
  signal(id: string, name: string) {
    return signal(this.st, id, name);
  }
  cancel(params: { command_id?: string | undefined; session_id?: string | undefined }) {
    if (params.command_id !== undefined) return cancel(this.st, { command_id: params.command_id });
    return cancel(this.st, { session_id: params.session_id ?? '' });
  }
  resize(id: string, cols: number, rows: number) {
    return resize(this.st, id, cols, rows);
  }

  // ---- files (PROTOCOL §7): each verb a file of files/
  readFile(p: FsReadParams) {
    return fsRead(this.st, p);
  }
  writeFile(p: FsWriteParams) {
    return fsWrite(this.st, p);
  }
  editFile(p: FsEditParams) {
    return fsEdit(this.st, p);
  }
  listFiles(p: ParamsOf<'fs.list'>) {
    return fsList(this.st, p);
  }
  searchFiles(p: ParamsOf<'fs.search'>) {
    return fsSearch(this.st, p);
  }
  grepFiles(p: ParamsOf<'fs.grep'>) {
    return fsGrep(this.st, p);
  }
  statFile(p: ParamsOf<'fs.stat'>) {
    return fsStat(this.st, p);
  }
  makeDirectory(p: ParamsOf<'fs.mkdir'>) {
    return fsMkdir(this.st, p);
  }
  removeFile(p: ParamsOf<'fs.remove'>) {
    return fsRemove(this.st, p);
  }
  moveFile(p: ParamsOf<'fs.move'>) {
    return fsMove(this.st, p);
  }
  watchFiles(p: ParamsOf<'fs.watch'>, streamId: string, target: WatchTarget) {
    return fsWatch(this.st, p, streamId, target);
  }
  unwatchFiles(streamId: string): boolean {
    return fsUnwatch(this.st, streamId);
  }
  /** GET /v1/files. */
  downloadFile(p: { session_id: string; path: string; offset: number; length: number | null }) {
    return download(this.st, p);
  }
  /** PUT /v1/files. */
  uploadFile(p: UploadOptions, body: Readable) {
    return upload(this.st, p, body);
  }

  // ---- the daemon
  stats() {
    return stats(this.st);
  }
  info() {
    return info(this.st);
  }
  uptime(): number {
    return uptime(this.st);
  }
  secretsFor(params?: unknown): string[] {
    return secretsFor(this.st, params);
  }
  redactError(err: unknown): { name: string; message: string } {
    return redactError(this.st, err);
  }
  /** Stop taking work, kill every command and session. */
  async shutdown(): Promise<void> {
    clearInterval(this.housekeeping);
    await shutdown(this.st);
  }
}
