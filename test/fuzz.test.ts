/**
 * Protocol fuzzing (PROTOCOL §1–3): random JSON, wrong types, huge strings,
 * deep nesting, NUL bytes and invalid UTF-8, unicode names, random method
 * names, random params for real methods and random sequences of valid calls
 * on real and made-up ids — pipelined over a few raw connections. Every
 * request gets exactly one well-formed response envelope (its id echoed, or
 * null), error codes come from the documented list (INTERNAL_ERROR, "a bug",
 * counts as a failure), stream events only follow their response, the daemon
 * never exits, and afterwards only the sessions made on purpose are left.
 *
 * Commands are only ever `true`, `echo`, `sleep 0` or a short `printf`: every
 * field that reaches a shell (command, argv, shell, working_dir, env names) is
 * drawn from a safe list, and random JSON that happens to name a real method is
 * dropped.
 *
 * TRL_FUZZ_SEED and TRL_FUZZ_RUNS override the fixed seed and the run count.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ERROR_CODES } from '../src/protocol/errors.js';
import { STREAM_EVENTS } from '../src/protocol/exec.js';
import { isMethodName } from '../src/protocol/methods.js';
import { anyCall, connect, type TrlClient } from './helpers/client.js';
import { type Daemon, makeTempDir, startDaemon } from './helpers/daemon.js';
import { zombieChildrenOf } from './helpers/processes.js';
import { waitFor } from './helpers/wait.js';

const SEED = Number(process.env.TRL_FUZZ_SEED ?? 20261122);
const RUNS = Number(process.env.TRL_FUZZ_RUNS ?? 20_000);
const CONNECTIONS = 4;
const WINDOW = 48;
/** A response not back this long after its request is lost (commands are bounded by --default-timeout-s 5). */
const LOST_AFTER_MS = 30_000;

// ---------------------------------------------------------------- safe values

const SAFE_COMMANDS = ['true', 'echo hi', 'echo "$PWD"', 'sleep 0', "printf '%s\\n' fuzz", 'printf x', 'echo ü🙂', 'echo a; echo b >&2'];
const SAFE_ARGV = [['true'], ['echo', 'x'], ['printf', '%s', 'y'], ['sleep', '0'], ['/nonexistent/fuzz-program']];
const SAFE_SHELLS = ['/bin/sh', '/bin/bash', '/nonexistent/sh', 'relative/sh', '/etc/passwd', '/tmp', ''];
const RISKY_ENV = /^(LD_|BASH_ENV$|ENV$|PATH$|IFS$|PS4$|SHELLOPTS$|BASHOPTS$|PROMPT_COMMAND$|HOME$|__TRL)/;

const EXEC_COMMON = [
  'session_id', 'command', 'argv', 'env', 'secret_keys', 'working_dir', 'stdin', 'stdin_encoding', 'timeout_s',
  'idle_timeout_s', 'encoding', 'max_output_bytes', 'persist_state', 'check', 'pty', 'stdin_open',
];
/** The methods fuzzed with params, and their fields. Methods not listed here (e.g. file methods) are never called. */
const FIELDS: Record<string, string[]> = {
  'system.ping': [],
  'system.stats': [],
  'system.info': [],
  'session.create': ['shell', 'env', 'working_dir', 'workspace', 'name', 'timeout_s', 'runtime', 'limits', 'network', 'image', 'secret_keys', 'redact_output'],
  'session.list': [],
  'session.info': ['session_id'],
  'session.update': ['session_id', 'env', 'unset_env', 'working_dir', 'name', 'timeout_s', 'secret_keys', 'redact_output'],
  'session.destroy': ['session_id', 'force'],
  'exec.run': [...EXEC_COMMON, 'yield_after_s'],
  'exec.stream': EXEC_COMMON,
  'exec.start': EXEC_COMMON,
  'exec.list': ['session_id'],
  'exec.info': ['command_id'],
  'exec.output': ['command_id', 'stream', 'offset', 'max_bytes', 'wait_ms', 'encoding'],
  'exec.attach': ['command_id', 'from_offset', 'encoding'],
  'exec.wait': ['command_id', 'timeout_s', 'encoding'],
  'exec.input': ['command_id', 'data', 'encoding', 'eof'],
  'exec.signal': ['command_id', 'signal'],
  'exec.cancel': ['command_id', 'session_id'],
  'exec.resize': ['command_id', 'cols', 'rows'],
};
const REAL_METHODS = Object.keys(FIELDS).filter(isMethodName);
const UNKNOWN_KEY = '__fuzz_unknown_field';

/** A placeholder resolved at send time to a real id from the pool (or a made-up one if the pool is empty). */
interface Ref {
  $ref: 'session' | 'command';
  k: number;
}
const ref = (kind: Ref['$ref']) => fc.nat().map((k): Ref => ({ $ref: kind, k }));

let WORK = '/tmp';

const huge = (max = 1_000_000) =>
  fc.tuple(fc.integer({ min: 100_000, max }), fc.constantFrom('x', 'ü', '🙂', '\u0000', '"', '\\')).map(([n, ch]) => ch.repeat(Math.floor(n / Buffer.byteLength(ch))));

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
const anyString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', 'a\u0000b', '\uFEFF', '\u2028', '\uD800', 'ü🙂', '../..', '%s%n') },
);
const safeEnvName = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/).filter((n) => !RISKY_ENV.test(n));
const envName = fc.oneof({ weight: 4, arbitrary: safeEnvName }, { weight: 1, arbitrary: fc.constantFrom('1A', 'A-B', '', 'É', 'A B', 'A=B', 'a\u0000b', 'ü') });
const envValue = fc.oneof({ weight: 20, arbitrary: anyString }, { weight: 1, arbitrary: huge(300_000) });
const envMap = fc.dictionary(envName, envValue, { maxKeys: 4 });
const number = fc.oneof(fc.constantFrom(0, 0.5, 1, 5, -1, 1e308, 2 ** 53, -0), fc.integer({ min: -10, max: 100_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
const dirs = () => fc.constantFrom('/tmp', WORK, '/nonexistent', 'rel', '', '/', '/etc/passwd', 'a/../..', '/tmp/', '/tmp//x', '/tmp/\u0000');

/** Valid-looking values of each field; wrong types are mixed in by randomParams. */
function fieldArb(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case 'session_id':
      return fc.oneof({ weight: 6, arbitrary: ref('session') }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: anyString });
    case 'command_id':
      return fc.oneof({ weight: 6, arbitrary: ref('command') }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: anyString });
    case 'command':
      return fc.constantFrom(...SAFE_COMMANDS);
    case 'argv':
      return fc.constantFrom(...SAFE_ARGV);
    case 'shell':
      return fc.constantFrom(...SAFE_SHELLS);
    case 'env':
      return envMap;
    case 'secret_keys':
    case 'unset_env':
      return fc.array(envName, { maxLength: 3 });
    case 'working_dir':
    case 'workspace':
      return dirs();
    case 'stdin':
    case 'data':
      return fc.oneof({ weight: 20, arbitrary: anyString }, { weight: 1, arbitrary: huge() });
    case 'stdin_encoding':
    case 'encoding':
      return fc.constantFrom('utf8', 'base64', 'latin1', '');
    case 'timeout_s':
    case 'idle_timeout_s':
    case 'yield_after_s':
      return fc.oneof(fc.constantFrom(0, 0.05, 0.5, 1, 2), number);
    case 'max_output_bytes':
    case 'max_bytes':
    case 'offset':
      return fc.oneof(fc.integer({ min: -2, max: 1 << 23 }), number);
    case 'wait_ms':
      return fc.constantFrom(0, 10, 50, 300, 600_001, -1, 0.5);
    case 'persist_state':
    case 'check':
    case 'stdin_open':
    case 'network':
    case 'redact_output':
    case 'force':
    case 'eof':
      return fc.boolean();
    case 'pty':
      return fc.record({ cols: fc.integer({ min: -1, max: 1200 }), rows: fc.integer({ min: -1, max: 1200 }) });
    case 'name':
      return fc.oneof({ weight: 20, arbitrary: anyString }, { weight: 1, arbitrary: huge() });
    case 'runtime':
      return fc.constantFrom('host', 'nope', '', 'HOST');
    case 'image':
      return anyString;
    case 'limits':
      return fc.record(
        {
          memory_bytes: fc.oneof(fc.integer({ min: 1 << 24, max: 2 ** 40 }), number),
          cpu_percent: fc.oneof(fc.integer({ min: 1, max: 400 }), number),
          pids: fc.oneof(fc.integer({ min: 1, max: 10_000 }), number),
          cpu_s: fc.oneof(fc.integer({ min: 1, max: 100 }), number),
          nofile: fc.oneof(fc.integer({ min: 8, max: 4096 }), number),
          max_output_bytes: fc.oneof(fc.integer({ min: 1, max: 1 << 22 }), number),
          [UNKNOWN_KEY]: fc.integer(),
        },
        { requiredKeys: [] },
      );
    case 'stream':
      return fc.constantFrom('stdout', 'stderr', 'both', '');
    case 'from_offset':
      return fc.oneof(fc.integer({ min: -1, max: 1 << 20 }), fc.record({ stdout: fc.integer({ min: -1, max: 100 }), stderr: fc.integer({ min: -1, max: 100 }) }, { requiredKeys: [] }));
    case 'signal':
      return fc.oneof(fc.constantFrom('SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGCONT', 'SIGSTOP', 'TERM', '9', 'SIGBOGUS', 'sigterm', ''), anyString);
    case 'cols':
    case 'rows':
      return fc.integer({ min: -1, max: 2000 });
    default:
      return fc.constant(null);
  }
}

/** Params of a real method: some of its fields, each valid-looking or of a wrong type, sometimes an unknown field. */
function randomParams(method: string): fc.Arbitrary<Record<string, unknown>> {
  const fields = FIELDS[method]!;
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) shape[f] = fc.oneof({ weight: 3, arbitrary: fieldArb(f) }, { weight: 1, arbitrary: wrongType });
  shape[UNKNOWN_KEY] = anyString;
  return fc.record(shape, { requiredKeys: [] }).filter((p) => {
    // a string reaching a shell must come from the safe lists (wrongType never yields strings)
    if (typeof p['command'] === 'string' && !SAFE_COMMANDS.includes(p['command'])) return false;
    return true;
  });
}

/** Params that a real method will mostly accept: its key fields with valid values. */
function validParams(method: string): fc.Arbitrary<Record<string, unknown>> {
  const sid = ref('session');
  const cid = ref('command');
  const cmd = fc.oneof({ weight: 4, arbitrary: fc.record({ command: fc.constantFrom(...SAFE_COMMANDS) }) }, { weight: 1, arbitrary: fc.record({ argv: fc.constantFrom(...SAFE_ARGV) }) });
  const execOpts = fc.record(
    {
      env: fc.dictionary(safeEnvName, fc.string({ maxLength: 10 }), { maxKeys: 2 }),
      timeout_s: fc.constantFrom(0.5, 2, 5),
      encoding: fc.constantFrom('utf8', 'base64'),
      max_output_bytes: fc.integer({ min: 1, max: 64 }),
      stdin: fc.string({ maxLength: 20 }),
      pty: fc.constant({ cols: 80, rows: 24 }),
    },
    { requiredKeys: [] },
  );
  const execParams = (withSession: fc.Arbitrary<Record<string, unknown>>) =>
    fc.tuple(withSession, cmd, execOpts).map(([a, b, c]) => ({ ...a, ...b, ...c }));
  const inSession = fc.oneof({ weight: 5, arbitrary: fc.record({ session_id: sid }) }, { weight: 1, arbitrary: fc.constant({}) });
  switch (method) {
    case 'session.create':
      return fc.record(
        {
          name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
          env: fc.dictionary(safeEnvName, fc.string({ maxLength: 10 }), { maxKeys: 3 }),
          timeout_s: fc.constantFrom(1, 5),
          working_dir: fc.constant(WORK),
          limits: fc.record({ pids: fc.integer({ min: 32, max: 256 }), max_output_bytes: fc.integer({ min: 16, max: 4096 }) }, { requiredKeys: [] }),
          redact_output: fc.boolean(),
        },
        { requiredKeys: [] },
      );
    case 'session.info':
    case 'exec.list':
      return fc.record({ session_id: sid });
    case 'session.update':
      return fc.record({ session_id: sid, env: fc.dictionary(safeEnvName, fc.string({ maxLength: 10 }), { maxKeys: 2 }), name: fc.string({ minLength: 1, maxLength: 10 }) }, { requiredKeys: ['session_id'] });
    case 'session.destroy':
      return fc.record({ session_id: sid, force: fc.boolean() }, { requiredKeys: ['session_id'] });
    case 'exec.run':
      return fc.tuple(execParams(inSession), fc.record({ yield_after_s: fc.constantFrom(0.01, 1) }, { requiredKeys: [] })).map(([a, b]) => ({ ...a, ...b }));
    case 'exec.stream':
    case 'exec.start':
      return execParams(inSession);
    case 'exec.info':
      return fc.record({ command_id: cid });
    case 'exec.output':
      return fc.record({ command_id: cid, offset: fc.nat(10), max_bytes: fc.integer({ min: 1, max: 100 }), wait_ms: fc.constantFrom(0, 20), stream: fc.constantFrom('stdout', 'stderr') }, { requiredKeys: ['command_id'] });
    case 'exec.attach':
      return fc.record({ command_id: cid, from_offset: fc.nat(5) }, { requiredKeys: ['command_id'] });
    case 'exec.wait':
      return fc.record({ command_id: cid, timeout_s: fc.constantFrom(0, 0.1, 2) }, { requiredKeys: ['command_id'] });
    case 'exec.input':
      return fc.record({ command_id: cid, data: fc.string({ maxLength: 10 }), eof: fc.boolean() }, { requiredKeys: ['command_id', 'data'] });
    case 'exec.signal':
      return fc.record({ command_id: cid, signal: fc.constantFrom('SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGCONT', 'SIGKILL') });
    case 'exec.cancel':
      return fc.oneof(fc.record({ command_id: cid }), fc.record({ session_id: sid }));
    case 'exec.resize':
      return fc.record({ command_id: cid, cols: fc.integer({ min: 1, max: 300 }), rows: fc.integer({ min: 1, max: 100 }) });
    default:
      return fc.constant({});
  }
}

// ---------------------------------------------------------------- cases

type IdMode = 'str' | 'int' | 'unicode' | 'none' | 'weird';
const WEIRD_IDS: unknown[] = [1.5, true, false, null, { a: 1 }, [1], 2 ** 60, -0.5, ''];

interface ReqCase {
  kind: 'req';
  what: string;
  method: unknown;
  /** undefined: omitted from the envelope */
  params: unknown;
  idMode: IdMode;
  weird?: unknown;
  extra?: Record<string, unknown>;
}
interface RawCase {
  kind: 'raw';
  what: string;
  /** Built at send time; `{ID}` is replaced by a unique JSON id. */
  text?: string;
  bytes?: readonly number[];
  /** Expected error code, when the case is built to provoke one. */
  code?: string;
}
type Case = ReqCase | RawCase;

const idMode = fc.constantFrom<IdMode>('str', 'str', 'str', 'int', 'int', 'unicode', 'none', 'weird');
const req = (what: string, method: fc.Arbitrary<unknown>, params: fc.Arbitrary<unknown>, extra?: fc.Arbitrary<Record<string, unknown>>) =>
  fc.record({ method, params, idMode, weird: fc.constantFrom(...WEIRD_IDS), extra: extra ?? fc.constant(undefined) }).map(
    (r): Case => ({ kind: 'req', what, method: r.method, params: r.params, idMode: r.idMode, weird: r.weird, ...(r.extra ? { extra: r.extra } : {}) }),
  );

const realMethod = fc.constantFrom(...REAL_METHODS);
const validCall = realMethod.chain((m) => req('valid call', fc.constant(m), validParams(m)));
const randomCall = realMethod.chain((m) => req('random params', fc.constant(m), randomParams(m)));
const fakeMethod = fc
  .oneof(
    anyString,
    fc.constantFrom('exec.Run', 'exec.run ', ' exec.run', 'EXEC.RUN', 'exec.', '.', 'exec', 'system.ping\u0000', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', 'session.create.x', 'exec_run', 'run', 'ping', 'ü.🙂'),
  )
  .filter((m) => m.length > 0 && !isMethodName(m) && !/^(fs|file)\./i.test(m));
const unknownMethodCall = req('unknown method', fakeMethod, fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })));
const badEnvelope = fc.oneof(
  req('params not an object', realMethod, fc.oneof(fc.array(fc.integer(), { maxLength: 3 }), fc.string({ maxLength: 5 }), fc.integer(), fc.boolean())),
  req('method not a string', fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.constant('system.ping'), { maxLength: 2 }), fc.constant({ m: 1 }), fc.constant('')), fc.constant(undefined)),
  req('extra envelope keys', realMethod.filter((m) => FIELDS[m]!.length === 0), fc.constant(undefined), fc.dictionary(fc.constantFrom('jsonrpc', 'x', 'data', 'ok', 'error', 'stream_id'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 })),
  req('params null', fc.constantFrom('system.ping', 'system.stats', 'session.list'), fc.constant(null)),
);
/** JSON that might name a real method is dropped: only the safe generators may call those. */
function namesRealMethod(text: string): boolean {
  try {
    const v = JSON.parse(text) as { method?: unknown };
    return typeof v === 'object' && v !== null && typeof v.method === 'string' && isMethodName(v.method);
  } catch {
    return false;
  }
}
const rawJson = fc.json({ maxDepth: 3 }).map((text): Case => ({ kind: 'raw', what: 'random JSON', text }));
const rawGarbage = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 200 }), fc.constantFrom('{', '}', '{"id":', '[]', '{}', 'null', '""', '{"id":1,"method":"system.ping"', '\u0000', 'true false'))
  .map((text): Case => ({ kind: 'raw', what: 'garbage', text }));
const rawBytes = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0)), { minLength: 1, maxLength: 64 })
  .chain((b) =>
    fc.constantFrom(
      { kind: 'raw' as const, what: 'raw bytes', bytes: b },
      // a well-formed envelope with NUL / invalid UTF-8 bytes inside a string
      { kind: 'raw' as const, what: 'bytes in a string', bytes: [...Buffer.from('{"id":{ID},"method":"session.create","params":{"name":"'), ...b.filter((x) => x !== 0x22 && x !== 0x5c && x !== 0x0a && x >= 0x20), ...Buffer.from('"}}')] },
      { kind: 'raw' as const, what: 'NUL in a line', bytes: [...Buffer.from('{"id":{ID},"method":"system.ping"}'), 0, 0] },
    ),
  )
  .map((c): Case => c);
const deep = fc.tuple(fc.integer({ min: 500, max: 100_000 }), fc.constantFrom(0, 1, 2, 3, 4)).map(([d, shape]): Case => {
  const arr = '['.repeat(d) + ']'.repeat(d);
  const obj = '{"a":'.repeat(d) + '1' + '}'.repeat(d);
  switch (shape) {
    case 0:
      return { kind: 'raw', what: 'deep env value', text: `{"id":{ID},"method":"session.create","params":{"env":{"A":${arr}}}}`, code: 'INVALID_PARAMS' };
    case 1:
      return { kind: 'raw', what: 'deep params', text: `{"id":{ID},"method":"system.ping","params":${obj}}`, code: 'INVALID_PARAMS' };
    case 2:
      return { kind: 'raw', what: 'deep session_id', text: `{"id":{ID},"method":"exec.run","params":{"session_id":${arr},"command":"true"}}`, code: 'INVALID_PARAMS' };
    case 3:
      return { kind: 'raw', what: 'deep unterminated', text: '['.repeat(d) };
    default:
      return { kind: 'raw', what: 'deep id', text: `{"id":${arr},"method":"system.ping"}` };
  }
});
const hugeCase = fc.tuple(huge(), fc.constantFrom(0, 1, 2, 3, 4, 5)).map(([s, shape]): Case => {
  switch (shape) {
    case 0:
      return { kind: 'req', what: 'huge name', method: 'session.create', params: { name: s }, idMode: 'str' };
    case 1:
      return { kind: 'req', what: 'huge command_id', method: 'exec.info', params: { command_id: s }, idMode: 'str' };
    case 2:
      return { kind: 'req', what: 'huge method', method: s, params: {}, idMode: 'str' };
    case 3:
      return { kind: 'raw', what: 'huge garbage', text: s.replace(/\n/g, ' ') };
    case 4:
      return { kind: 'req', what: 'huge id', method: 'system.ping', params: {}, idMode: 'weird', weird: s };
    default:
      return { kind: 'req', what: 'huge stdin', method: 'exec.run', params: { command: 'true', stdin: s.slice(0, 900_000) }, idMode: 'str' };
  }
});
const protoCase = fc
  .constantFrom(
    '{"id":{ID},"method":"session.create","params":{"__proto__":{"shell":"/nonexistent"}}}',
    '{"id":{ID},"method":"system.ping","params":{"constructor":{"prototype":{"x":1}}}}',
    '{"id":{ID},"method":"exec.run","params":{"__proto__":{"command":"true"}}}',
    '{"id":{ID},"__proto__":{"method":"system.ping"}}',
  )
  .map((text): Case => ({ kind: 'raw', what: 'prototype keys', text }));

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 40, arbitrary: validCall },
  { weight: 25, arbitrary: randomCall },
  { weight: 8, arbitrary: unknownMethodCall },
  { weight: 6, arbitrary: badEnvelope },
  { weight: 6, arbitrary: rawJson.filter((c) => !namesRealMethod((c as RawCase).text!)) },
  { weight: 5, arbitrary: rawGarbage.filter((c) => !namesRealMethod((c as RawCase).text!)) },
  { weight: 3, arbitrary: rawBytes },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: hugeCase },
  { weight: 1, arbitrary: protoCase },
);

// ---------------------------------------------------------------- the runner

interface Expect {
  index: number;
  c: Case;
  sentAt: number;
  /** Oracle: this error code is the only right answer. */
  code?: string;
  method?: string;
}

interface Failure {
  index: number;
  what: string;
  problem: string;
}

/** JSON key of the id the daemon must echo: usable ids are strings and safe integers; anything else is null. */
function idKey(id: unknown): string {
  if (typeof id === 'string') return JSON.stringify(id);
  if (typeof id === 'number' && Number.isSafeInteger(id)) return JSON.stringify(id);
  return 'null';
}

/** What the daemon must echo for a line, parsed exactly as it parses it. */
function expectedKeyOfLine(buf: Buffer): string {
  try {
    const v = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'null';
    return idKey(v['id']);
  } catch {
    return 'null';
  }
}

const CODES = new Set<string>(ERROR_CODES);
const EVENTS = new Set<string>(STREAM_EVENTS);

class FuzzConnection {
  private readonly socket: net.Socket;
  private buf = '';
  /** Responses awaited, by expected id key (a multiset: null-id requests share 'null'). */
  readonly waiting = new Map<string, Expect[]>();
  /** Keys sent more than once: their answers cannot be matched to one request, so no per-request oracle applies. */
  private readonly shared = new Set<string>(['null']);
  private readonly seen = new Set<string>();
  inflight = 0;
  closed = false;
  private readonly streams = new Set<string>();
  private readonly ended = new Set<string>();
  private drainWaiters: Array<() => void> = [];
  responses = 0;
  events = 0;

  private constructor(
    socket: net.Socket,
    private readonly onOk: (e: Expect, data: Record<string, unknown>) => void,
    private readonly fail: (f: Failure) => void,
  ) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string, onOk: FuzzConnection['onOk'], fail: FuzzConnection['fail']): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(new FuzzConnection(s, onOk, fail)));
      s.once('error', reject);
    });
  }

  send(line: Buffer, key: string, e: Expect): void {
    if (this.seen.has(key)) this.shared.add(key);
    this.seen.add(key);
    const list = this.waiting.get(key);
    if (list) list.push(e);
    else this.waiting.set(key, [e]);
    this.inflight++;
    this.socket.write(line);
    this.socket.write('\n');
  }

  async room(window: number): Promise<void> {
    while (this.inflight >= window && !this.closed) await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  private wake(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }

  close(): void {
    this.socket.destroy();
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.fail({ index: -1, what: 'daemon output', problem: `a line that is not JSON: ${line.slice(0, 300)}` });
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return this.fail({ index: -1, what: 'daemon output', problem: `a line that is not an object: ${line.slice(0, 300)}` });
    }
    if ('stream_id' in msg && !('ok' in msg)) return this.onEvent(msg, line);
    this.responses++;
    const key = idKey(msg['id']);
    if (msg['id'] !== null && key === 'null') {
      return this.fail({ index: -1, what: 'daemon output', problem: `a response id that is neither a string, an integer nor null: ${line.slice(0, 300)}` });
    }
    const list = this.waiting.get(key);
    const e = list?.shift();
    if (list && list.length === 0) this.waiting.delete(key);
    if (!e) return this.fail({ index: -1, what: 'daemon output', problem: `a response nobody waits for (a second answer?): ${line.slice(0, 300)}` });
    this.inflight--;
    this.wake();
    const shared = this.shared.has(key);
    const bad = (problem: string) =>
      this.fail({ index: shared ? -1 : e.index, what: shared ? 'a request without a usable id' : e.c.what, problem: `${problem}; response ${line.slice(0, 400)}` });
    const code = shared ? undefined : e.code;
    const keys = Object.keys(msg).sort().join(',');
    if (msg['ok'] === true) {
      if (keys !== 'data,id,ok') return bad(`success envelope has keys ${keys}`);
      if (code) return bad(`expected ${code}, got success`);
      const data = msg['data'] as Record<string, unknown>;
      if (typeof data?.['stream_id'] === 'string') this.streams.add(data['stream_id']);
      this.onOk(e, data);
    } else if (msg['ok'] === false) {
      if (keys !== 'error,id,ok') return bad(`error envelope has keys ${keys}`);
      const err = msg['error'] as { code?: unknown; message?: unknown };
      if (typeof err?.code !== 'string' || !CODES.has(err.code)) return bad(`unknown error code ${JSON.stringify(err?.code)}`);
      if (typeof err.message !== 'string' || err.message.length === 0) return bad('empty error message');
      if (err.code === 'INTERNAL_ERROR') return bad('INTERNAL_ERROR (a bug, says PROTOCOL §3)');
      if (code && err.code !== code) return bad(`expected ${code}, got ${err.code}`);
    } else {
      return bad('`ok` is not a boolean');
    }
  }

  private onEvent(msg: Record<string, unknown>, line: string): void {
    this.events++;
    const sid = msg['stream_id'];
    if (typeof sid !== 'string' || typeof msg['event'] !== 'string' || !EVENTS.has(msg['event'])) {
      return this.fail({ index: -1, what: 'stream event', problem: `malformed event ${line.slice(0, 300)}` });
    }
    if (!this.streams.has(sid)) return this.fail({ index: -1, what: 'stream event', problem: `an event before (or without) its stream's response: ${line.slice(0, 300)}` });
    if (this.ended.has(sid)) return this.fail({ index: -1, what: 'stream event', problem: `an event after the stream's exit/error: ${line.slice(0, 300)}` });
    if (msg['event'] === 'exit' || msg['event'] === 'error') this.ended.add(sid);
  }

  oldest(): Expect | undefined {
    let o: Expect | undefined;
    for (const list of this.waiting.values()) for (const e of list) if (!o || e.sentAt < o.sentAt) o = e;
    return o;
  }

  pending(): Expect[] {
    return [...this.waiting.values()].flat();
  }
}

describe('protocol fuzzing', () => {
  let d: Daemon;
  let control: TrlClient;
  const purposeful: string[] = [];

  before(async () => {
    WORK = fs.realpathSync(makeTempDir('/tmp/trl-fuzz-wd-'));
    d = await startDaemon({
      flags: ['--default-timeout-s', '5', '--kill-grace-s', '1', '--default-working-dir', WORK, '--session-max-commands', '1000000'],
    });
    control = await connect(d);
  });
  after(async () => {
    control?.close();
    await d?.shutdownClean();
    if (WORK !== '/tmp') fs.rmSync(WORK, { recursive: true, force: true });
  });

  it(`${RUNS} random requests, pipelined: exactly one well-formed response each, the daemon survives, nothing leaks`, { timeout: 10 * 60_000 }, async () => {
    console.log(`# fuzz: seed ${SEED}, ${RUNS} runs (set TRL_FUZZ_SEED / TRL_FUZZ_RUNS to change)`);
    for (let i = 0; i < 2; i++) purposeful.push((await anyCall(control, 'session.create', { name: `on-purpose-${i}` })).session_id);

    const t0 = Date.now();
    const cases = fc.sample(caseArb, { seed: SEED, numRuns: RUNS });
    const genMs = Date.now() - t0;

    const failures: Failure[] = [];
    const fail = (f: Failure) => failures.push(f);
    // pools of real ids, fed by the answers (by their shape: a null-id answer cannot be told apart from another)
    const sessionSet = new Set<string>();
    let sessions: string[] = [];
    const commands: string[] = [];
    const onOk = (_e: Expect, data: Record<string, unknown>) => {
      const sid = data?.['session_id'];
      if (typeof sid === 'string' && typeof data['created_at'] === 'string' && !purposeful.includes(sid) && !sessionSet.has(sid)) {
        sessionSet.add(sid);
        sessions.push(sid);
      }
      if (typeof sid === 'string' && data['state'] === 'terminated' && sessionSet.delete(sid)) sessions = sessions.filter((x) => x !== sid);
      if (typeof data?.['command_id'] === 'string') {
        commands.push(data['command_id']);
        if (commands.length > 300) commands.splice(0, 100);
      }
    };
    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => FuzzConnection.open(d.socketPath, onOk, fail)));

    const resolveRefs = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map((x) => resolveRefs(x));
      if (v && typeof v === 'object') {
        const r = v as Partial<Ref>;
        if ((r.$ref === 'session' || r.$ref === 'command') && typeof r.k === 'number' && Object.keys(v).length === 2) {
          const pool = r.$ref === 'session' ? sessions : commands;
          return pool.length > 0 ? pool[r.k % pool.length] : `00000000-0000-4000-8000-${String(r.k).padStart(12, '0').slice(-12)}`;
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveRefs(x)]));
      }
      return v;
    };

    let nextInt = 1_000_000;
    const kinds = new Map<string, number>();
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      kinds.set(c.what, (kinds.get(c.what) ?? 0) + 1);
      const conn = conns[i % CONNECTIONS]!;
      await conn.room(WINDOW);
      if (conn.closed || d.hasExited()) break;
      let line: Buffer;
      const e: Expect = { index: i, c, sentAt: Date.now() };
      if (c.kind === 'req') {
        const env: Record<string, unknown> = { ...(c.extra ?? {}) };
        let id: unknown;
        if (c.idMode === 'str') id = `f-${i}`;
        else if (c.idMode === 'int') id = nextInt++;
        else if (c.idMode === 'unicode') id = `ü-${i}-🙂\u0000`;
        else if (c.idMode === 'weird') id = c.weird;
        if (c.idMode !== 'none') env['id'] = id;
        env['method'] = c.method;
        const params = resolveRefs(c.params);
        if (params !== undefined) env['params'] = params;
        line = Buffer.from(JSON.stringify(env));
        if (typeof c.method === 'string') e.method = c.method;
        // oracles that hold whatever the state
        if (typeof c.method !== 'string' || c.method.length === 0) e.code = 'INVALID_PARAMS';
        else if (!isMethodName(c.method)) e.code = 'METHOD_NOT_FOUND';
        else if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) e.code = 'INVALID_PARAMS';
        else if (params && typeof params === 'object' && UNKNOWN_KEY in params) e.code = 'INVALID_PARAMS';
      } else {
        const id = JSON.stringify(`r-${i}`);
        line = c.bytes ? Buffer.from(Buffer.from(c.bytes).toString('latin1').replace('{ID}', id), 'latin1') : Buffer.from(c.text!.replace('{ID}', id));
        // a raw line must be one line and not blank (blank lines are skipped by NDJSON readers)
        line = Buffer.from(line.toString('latin1').replace(/\n/g, ' '), 'latin1');
        if (line.toString('utf8').trim() === '') line = Buffer.from('{', 'latin1');
        if (c.code) e.code = c.code;
      }
      const key = expectedKeyOfLine(line);
      conn.send(line, key, e);
      // keep the number of live fuzz sessions bounded (max_sessions is 64)
      if (sessions.length > 24) {
        const victim = sessions.shift()!;
        sessionSet.delete(victim);
        void control.call('session.destroy', { session_id: victim, force: true }).catch(() => undefined);
      }
    }
    const sendMs = Date.now() - t0 - genMs;

    // every request answered?
    const allAnswered = () => conns.every((c) => c.inflight === 0);
    await waitFor(allAnswered, LOST_AFTER_MS, 50);
    if (!allAnswered()) {
      // a command stopped by SIGSTOP in a session without a timeout may rightly wait forever: ending it answers its waiters
      const stuck = conns.flatMap((c) => c.pending()).slice(0, 10).map((e) => `${e.c.what}: ${JSON.stringify(e.c).slice(0, 200)}`);
      console.log(`# fuzz: still waiting after ${LOST_AFTER_MS} ms for ${conns.reduce((n, c) => n + c.inflight, 0)} answers; cancelling every command and destroying every fuzz session. Waiting for: ${stuck.join(' | ')}`);
      for (const id of commands) await control.call('exec.cancel', { command_id: id }).catch(() => undefined);
      for (const s of sessions.splice(0)) await control.call('session.destroy', { session_id: s, force: true }).catch(() => undefined);
      await waitFor(allAnswered, 10_000, 50);
    }
    const lost = conns.flatMap((c) => c.pending());
    const elapsed = Date.now() - t0;
    const responses = conns.reduce((n, c) => n + c.responses, 0);
    const events = conns.reduce((n, c) => n + c.events, 0);
    console.log(
      `# fuzz: ${cases.length} requests, ${responses} responses, ${events} events in ${elapsed} ms (generation ${genMs} ms, sending ${sendMs} ms); ` +
        [...kinds].map(([k, n]) => `${k} ${n}`).join(', '),
    );
    const describeCase = (index: number) => {
      if (index < 0) return '';
      const c = cases[index]!;
      return ` [case ${index}: ${JSON.stringify(c).slice(0, 300)}]`;
    };
    assert.equal(d.hasExited(), false, `the daemon exited during the fuzz run; stderr tail:\n${d.stderr().slice(-3000)}`);
    assert.ok(conns.every((c) => !c.closed), 'the daemon closed a fuzz connection (only REQUEST_TOO_LARGE may, and no request was that large)');
    assert.deepEqual(
      failures.slice(0, 15).map((f) => `${f.what}: ${f.problem}${describeCase(f.index)}`),
      [],
      `${failures.length} bad responses (seed ${SEED})`,
    );
    assert.deepEqual(
      lost.slice(0, 15).map((e) => `${e.c.what}${describeCase(e.index)}`),
      [],
      `${lost.length} requests never answered (seed ${SEED})`,
    );
    assert.equal(responses, cases.length, 'one response per request');
    for (const c of conns) c.close();

    // afterwards: only the sessions made on purpose are left, and they still work
    for (const s of sessions.splice(0)) await control.call('session.destroy', { session_id: s, force: true }).catch(() => undefined);
    // fuzz sessions whose create answer was an error cannot exist; ones we lost track of would show up here
    let list: string[] = [];
    let stats: Record<string, number> = {};
    await waitFor(async () => {
      list = (await anyCall(control, 'session.list')).sessions.map((s: { session_id: string }) => s.session_id);
      stats = await anyCall(control, 'system.stats');
      return list.length === purposeful.length && stats['active_sessions'] === purposeful.length && stats['running_commands'] === 0;
    }, 15_000, 100);
    const leftovers = list.filter((id) => !purposeful.includes(id));
    // sessions the fuzz created and then lost track of (e.g. the pool trimmed them) are destroyed by the test, then counted
    for (const id of leftovers) await control.call('session.destroy', { session_id: id, force: true }).catch(() => undefined);
    assert.deepEqual(leftovers, [], 'session.list holds sessions the fuzz run never got an answer for');
    assert.deepEqual([...list].sort(), [...purposeful].sort(), 'the sessions made on purpose are gone');
    assert.equal(stats['active_sessions'], purposeful.length, 'ephemeral sessions were left behind (system.stats.active_sessions)');
    assert.equal(stats['running_commands'], 0, 'commands are still running');
    for (const id of purposeful) {
      const r = await anyCall(control, 'exec.run', { session_id: id, command: 'echo still' });
      assert.equal(r.stdout, 'still\n');
    }
    await waitFor(() => zombieChildrenOf(d.pid).length === 0, 2000);
    assert.deepEqual(zombieChildrenOf(d.pid), [], 'zombie children of the daemon');
  });
});
