import type { z } from 'zod';
import * as exec from './exec.js';
import * as fs from './files.js';
import * as session from './session.js';
import * as system from './system.js';

export interface MethodSpec {
  params: z.ZodType;
  result: z.ZodType;
  summary: string;
  /** Streaming methods answer, then send events on the same connection. */
  streaming?: boolean;
}

/**
 * Every method of the protocol: the single source of truth for validation,
 * the SDK's types and the generated docs/protocol.md.
 */
export const METHODS = {
  'system.ping': { params: system.PingParams, result: system.PingResult, summary: 'Liveness check.' },
  'system.stats': { params: system.StatsParams, result: system.StatsResult, summary: 'Counters: sessions, commands, memory, fds, zombies.' },
  'system.info': { params: system.InfoParams, result: system.InfoResult, summary: 'Version, tiers and their health, limits in force, enforcement mechanism.' },
  'session.create': { params: session.SessionCreateParams, result: session.SessionInfo, summary: 'Create a session: its own cwd, env, process tree, limits and tier.' },
  'session.list': { params: session.SessionListParams, result: session.SessionListResult, summary: 'All live sessions.' },
  'session.info': { params: session.SessionInfoParams, result: session.SessionInfo, summary: 'One session (env keys only, never values).' },
  'session.update': { params: session.SessionUpdateParams, result: session.SessionInfo, summary: 'Change env, cwd, name or default timeout between commands.' },
  'session.destroy': { params: session.SessionDestroyParams, result: session.SessionDestroyResult, summary: 'Kill every process of the session and release its resources.' },
  'exec.run': { params: exec.ExecRunParams, result: exec.ExecResult, summary: 'Run a command and return its buffered result (or, with yield_after_s, what it printed so far).' },
  'exec.stream': {
    params: exec.ExecStreamParams,
    result: exec.StreamOpened,
    summary: 'Run a command in the foreground slot and stream its output as events (stdout, stderr, gap, exit).',
    streaming: true,
  },
  'exec.start': { params: exec.ExecStartParams, result: exec.ExecStartResult, summary: 'Start a background command and return at once.' },
  'exec.list': { params: exec.ExecListParams, result: exec.ExecListResult, summary: 'Commands of a session, running and retained.' },
  'exec.info': { params: exec.ExecInfoParams, result: exec.CommandInfo, summary: 'State, exit fields and byte counts of one command.' },
  'exec.output': { params: exec.ExecOutputParams, result: exec.ExecOutputResult, summary: 'Read buffered output from a byte offset; wait_ms long-polls for new bytes.' },
  'exec.pipe': {
    params: exec.ExecPipeParams,
    result: exec.ExecPipeResult,
    summary:
      "Unix socket only: answer, then turn the connection into one stream's raw bytes (no JSON, no encoding, the output redacted as everywhere) from `offset` until the command is complete, then close it. Send it as the first request of a connection of its own (anywhere else it is refused); nothing sent after it is read. The connection also ends early if a reader that stopped reading for a second lost bytes: call exec.pipe again from offset + the bytes received (its `dropped_bytes` then says how many are gone); exec.info says when every byte was read (stdout_bytes, state). Over HTTP: GET /v1/sessions/{session_id}/commands/{command_id}/output.",
    streaming: true,
  },
  'exec.attach': { params: exec.ExecAttachParams, result: exec.StreamOpened, summary: 'Replay buffered output from an offset, then stream live events.', streaming: true },
  'exec.wait': { params: exec.ExecWaitParams, result: exec.ExecResult, summary: 'Wait for a command to end and return its result.' },
  'exec.input': { params: exec.ExecInputParams, result: exec.ExecInputResult, summary: "Write to a command's stdin; eof closes it." },
  'exec.signal': { params: exec.ExecSignalParams, result: exec.ExecSignalResult, summary: "Deliver a signal to the command's whole process tree." },
  'exec.cancel': { params: exec.ExecCancelParams, result: exec.ExecCancelResult, summary: "SIGTERM, grace, SIGKILL to a command's tree (or every command of a session); the session survives." },
  'exec.resize': { params: exec.ExecResizeParams, result: exec.ExecResizeResult, summary: 'Resize the pseudo-terminal of a pty command.' },
  'fs.read': {
    params: fs.FsReadParams,
    result: fs.FsReadResult,
    summary: "Read a file of the session's workspace: by lines (numbered range, long lines clipped) or by bytes (base64 for binary); at most max_read_bytes.",
  },
  'fs.write': { params: fs.FsWriteParams, result: fs.FsWriteResult, summary: 'Write a whole file atomically (temporary file, then rename); refuses to replace one unless overwrite.' },
  'fs.edit': {
    params: fs.FsEditParams,
    result: fs.FsEditResult,
    summary: 'Exact replacements, all or none, each matching once unless replace_all; optional precondition; dry_run returns a unified diff.',
  },
  'fs.list': { params: fs.FsListParams, result: fs.FsListResult, summary: 'Entries of a directory (or its whole tree), by name, paged; .gitignore respected unless no_ignore.' },
  'fs.search': { params: fs.FsSearchParams, result: fs.FsSearchResult, summary: 'Files and directories whose name (or path) matches a glob, paged; .gitignore respected unless no_ignore.' },
  'fs.grep': { params: fs.FsGrepParams, result: fs.FsGrepResult, summary: 'Lines matching a regular expression, paged, bounded in time; .gitignore respected unless no_ignore.' },
  'fs.stat': { params: fs.FsStatParams, result: fs.FsStatResult, summary: 'Type, size, mode and mtime of a path (of a symlink itself with follow: false).' },
  'fs.mkdir': { params: fs.FsMkdirParams, result: fs.FsMkdirResult, summary: 'Create a directory (and its parents with parents: true).' },
  'fs.remove': { params: fs.FsRemoveParams, result: fs.FsRemoveResult, summary: 'Remove a file, a symlink, or a directory (recursive: true unless empty); never follows a link.' },
  'fs.move': { params: fs.FsMoveParams, result: fs.FsMoveResult, summary: 'Rename a file or directory inside the workspace.' },
  'fs.watch': {
    params: fs.FsWatchParams,
    result: fs.FsWatchOpened,
    summary: 'Stream change events (create, write, remove, rename) under a directory until fs.unwatch or the connection closes.',
    streaming: true,
  },
  'fs.unwatch': { params: fs.FsUnwatchParams, result: fs.FsUnwatchResult, summary: 'End an fs.watch stream (its last event is exit).' },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export type ParamsOf<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(METHODS, name);
}
