/**
 * The fuzz cases (test/fuzz.test.ts): fast-check arbitraries of requests and raw lines, with
 * every field that reaches a shell drawn from a safe list, and the id the daemon must echo.
 */
import fc from 'fast-check';
import { isMethodName, METHODS } from '../../src/protocol/methods.js';
// ---------------------------------------------------------------- safe values

export const SAFE_COMMANDS = ['true', 'echo hi', 'echo "$PWD"', 'sleep 0', "printf '%s\\n' fuzz", 'printf x', 'echo ü🙂', 'echo a; echo b >&2'];
export const SAFE_ARGV = [['true'], ['echo', 'x'], ['printf', '%s', 'y'], ['sleep', '0'], ['/nonexistent/fuzz-program']];
export const SAFE_SHELLS = ['/bin/sh', '/bin/bash', '/nonexistent/sh', 'relative/sh', '/etc/passwd', '/tmp', ''];
export const RISKY_ENV = /^(LD_|BASH_ENV$|ENV$|PATH$|IFS$|PS4$|SHELLOPTS$|BASHOPTS$|PROMPT_COMMAND$|HOME$|__TRL)/;

/**
 * The methods fuzzed with params, and their fields: read from the method registry's schemas, so a
 * new field is fuzzed as soon as it exists (fieldArb throws for a field it has no generator for).
 * The files API is left out: it writes files, and has its own jail tests and race harness.
 */
const FUZZED_NAMESPACES = ['system', 'session', 'exec'];
export const FIELDS: Record<string, string[]> = Object.fromEntries(
  Object.entries(METHODS)
    .filter(([name]) => FUZZED_NAMESPACES.includes(name.split('.')[0]!))
    .map(([name, def]) => [name, Object.keys((def.params as unknown as { shape: Record<string, unknown> }).shape)]),
);
export const REAL_METHODS = Object.keys(FIELDS).filter(isMethodName);
export const UNKNOWN_KEY = '__fuzz_unknown_field';

/** A placeholder resolved at send time to a real id from the pool (or a made-up one if the pool is empty). */
export interface Ref {
  $ref: 'session' | 'command';
  k: number;
}
export const ref = (kind: Ref['$ref']) => fc.nat().map((k): Ref => ({ $ref: kind, k }));

let WORK = '/tmp';
/** The daemon's working directory, one of the directories the cases name (set before sampling). */
export function setFuzzWorkDir(dir: string): void {
  WORK = dir;
}

export const huge = (max = 1_000_000) =>
  fc.tuple(fc.integer({ min: 100_000, max }), fc.constantFrom('x', 'ü', '🙂', '\u0000', '"', '\\')).map(([n, ch]) => ch.repeat(Math.floor(n / Buffer.byteLength(ch))));

export const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
export const anyString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', 'a\u0000b', '\uFEFF', '\u2028', '\uD800', 'ü🙂', '../..', '%s%n') },
);
export const safeEnvName = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,10}$/).filter((n) => !RISKY_ENV.test(n));
export const envName = fc.oneof({ weight: 4, arbitrary: safeEnvName }, { weight: 1, arbitrary: fc.constantFrom('1A', 'A-B', '', 'É', 'A B', 'A=B', 'a\u0000b', 'ü') });
export const envValue = fc.oneof({ weight: 20, arbitrary: anyString }, { weight: 1, arbitrary: huge(300_000) });
export const envMap = fc.dictionary(envName, envValue, { maxKeys: 4 });
export const number = fc.oneof(fc.constantFrom(0, 0.5, 1, 5, -1, 1e308, 2 ** 53, -0), fc.integer({ min: -10, max: 100_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
export const dirs = () => fc.constantFrom('/tmp', WORK, '/nonexistent', 'rel', '', '/', '/etc/passwd', 'a/../..', '/tmp/', '/tmp//x', '/tmp/\u0000');

/** Valid-looking values of each field; wrong types are mixed in by randomParams. */
export function fieldArb(field: string): fc.Arbitrary<unknown> {
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
    case 'follow':
    case 'background':
    case 'fd3':
    case 'raw_output':
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
      throw new Error(`fuzz: no generator for the field '${field}' (a new field of a method's params): add one to fieldArb`);
  }
}

/** Params of a real method: some of its fields, each valid-looking or of a wrong type, sometimes an unknown field. */
export function randomParams(method: string): fc.Arbitrary<Record<string, unknown>> {
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
export function validParams(method: string): fc.Arbitrary<Record<string, unknown>> {
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
  const execParams = (withSession: fc.Arbitrary<Record<string, unknown>>) => fc.tuple(withSession, cmd, execOpts).map(([a, b, c]) => ({ ...a, ...b, ...c }));
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
      return fc.record(
        { session_id: sid, env: fc.dictionary(safeEnvName, fc.string({ maxLength: 10 }), { maxKeys: 2 }), name: fc.string({ minLength: 1, maxLength: 10 }) },
        { requiredKeys: ['session_id'] },
      );
    case 'session.destroy':
      return fc.record({ session_id: sid, force: fc.boolean() }, { requiredKeys: ['session_id'] });
    case 'exec.run':
      return fc.tuple(execParams(inSession), fc.record({ yield_after_s: fc.constantFrom(0.01, 1), raw_output: fc.boolean() }, { requiredKeys: [] })).map(([a, b]) => ({ ...a, ...b }));
    case 'exec.stream':
    case 'exec.start':
      return execParams(inSession);
    case 'exec.info':
      return fc.record({ command_id: cid });
    case 'exec.output':
      return fc.record(
        { command_id: cid, offset: fc.nat(10), max_bytes: fc.integer({ min: 1, max: 100 }), wait_ms: fc.constantFrom(0, 20), stream: fc.constantFrom('stdout', 'stderr') },
        { requiredKeys: ['command_id'] },
      );
    case 'exec.attach':
      return fc.record({ command_id: cid, from_offset: fc.nat(5) }, { requiredKeys: ['command_id'] });
    case 'exec.wait':
      return fc.record({ command_id: cid, timeout_s: fc.constantFrom(0, 0.1, 2), raw_output: fc.boolean() }, { requiredKeys: ['command_id'] });
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

export type IdMode = 'str' | 'int' | 'unicode' | 'none' | 'weird';
export const WEIRD_IDS: unknown[] = [1.5, true, false, null, { a: 1 }, [1], 2 ** 60, -0.5, ''];

export interface ReqCase {
  kind: 'req';
  what: string;
  method: unknown;
  /** undefined: omitted from the envelope */
  params: unknown;
  idMode: IdMode;
  weird?: unknown;
  extra?: Record<string, unknown>;
}
export interface RawCase {
  kind: 'raw';
  what: string;
  /** Built at send time; `{ID}` is replaced by a unique JSON id. */
  text?: string;
  bytes?: readonly number[];
  /** Expected error code, when the case is built to provoke one. */
  code?: string;
}
export type Case = ReqCase | RawCase;

export const idMode = fc.constantFrom<IdMode>('str', 'str', 'str', 'int', 'int', 'unicode', 'none', 'weird');
export const req = (what: string, method: fc.Arbitrary<unknown>, params: fc.Arbitrary<unknown>, extra?: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .record({ method, params, idMode, weird: fc.constantFrom(...WEIRD_IDS), extra: extra ?? fc.constant(undefined) })
    .map((r): Case => ({ kind: 'req', what, method: r.method, params: r.params, idMode: r.idMode, weird: r.weird, ...(r.extra ? { extra: r.extra } : {}) }));

export const realMethod = fc.constantFrom(...REAL_METHODS);
export const validCall = realMethod.chain((m) => req('valid call', fc.constant(m), validParams(m)));
export const randomCall = realMethod.chain((m) => req('random params', fc.constant(m), randomParams(m)));
export const fakeMethod = fc
  .oneof(
    anyString,
    fc.constantFrom(
      'exec.Run',
      'exec.run ',
      ' exec.run',
      'EXEC.RUN',
      'exec.',
      '.',
      'exec',
      'system.ping\u0000',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'toString',
      'valueOf',
      'session.create.x',
      'exec_run',
      'run',
      'ping',
      'ü.🙂',
    ),
  )
  .filter((m) => m.length > 0 && !isMethodName(m) && !/^(fs|file)\./i.test(m));
export const unknownMethodCall = req('unknown method', fakeMethod, fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })));
export const badEnvelope = fc.oneof(
  req('params not an object', realMethod, fc.oneof(fc.array(fc.integer(), { maxLength: 3 }), fc.string({ maxLength: 5 }), fc.integer(), fc.boolean())),
  req(
    'method not a string',
    fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.constant('system.ping'), { maxLength: 2 }), fc.constant({ m: 1 }), fc.constant('')),
    fc.constant(undefined),
  ),
  req(
    'extra envelope keys',
    realMethod.filter((m) => FIELDS[m]!.length === 0),
    fc.constant(undefined),
    fc.dictionary(fc.constantFrom('jsonrpc', 'x', 'data', 'ok', 'error', 'stream_id'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }),
  ),
  req('params null', fc.constantFrom('system.ping', 'system.stats', 'session.list'), fc.constant(null)),
);
/** JSON that might name a real method is dropped: only the safe generators may call those. */
export function namesRealMethod(text: string): boolean {
  try {
    const v = JSON.parse(text) as { method?: unknown };
    return typeof v === 'object' && v !== null && typeof v.method === 'string' && isMethodName(v.method);
  } catch {
    return false;
  }
}
export const rawJson = fc.json({ maxDepth: 3 }).map((text): Case => ({ kind: 'raw', what: 'random JSON', text }));
export const rawGarbage = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('{', '}', '{"id":', '[]', '{}', 'null', '""', '{"id":1,"method":"system.ping"', '\u0000', 'true false'),
  )
  .map((text): Case => ({ kind: 'raw', what: 'garbage', text }));
export const rawBytes = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0)), { minLength: 1, maxLength: 64 })
  .chain((b) =>
    fc.constantFrom(
      { kind: 'raw' as const, what: 'raw bytes', bytes: b },
      // a well-formed envelope with NUL / invalid UTF-8 bytes inside a string
      {
        kind: 'raw' as const,
        what: 'bytes in a string',
        bytes: [...Buffer.from('{"id":{ID},"method":"session.create","params":{"name":"'), ...b.filter((x) => x !== 0x22 && x !== 0x5c && x !== 0x0a && x >= 0x20), ...Buffer.from('"}}')],
      },
      { kind: 'raw' as const, what: 'NUL in a line', bytes: [...Buffer.from('{"id":{ID},"method":"system.ping"}'), 0, 0] },
    ),
  )
  .map((c): Case => c);
export const deep = fc.tuple(fc.integer({ min: 500, max: 100_000 }), fc.constantFrom(0, 1, 2, 3, 4)).map(([d, shape]): Case => {
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
export const hugeCase = fc.tuple(huge(), fc.constantFrom(0, 1, 2, 3, 4, 5)).map(([s, shape]): Case => {
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
export const protoCase = fc
  .constantFrom(
    '{"id":{ID},"method":"session.create","params":{"__proto__":{"shell":"/nonexistent"}}}',
    '{"id":{ID},"method":"system.ping","params":{"constructor":{"prototype":{"x":1}}}}',
    '{"id":{ID},"method":"exec.run","params":{"__proto__":{"command":"true"}}}',
    '{"id":{ID},"__proto__":{"method":"system.ping"}}',
  )
  .map((text): Case => ({ kind: 'raw', what: 'prototype keys', text }));

export const caseArb: fc.Arbitrary<Case> = fc.oneof(
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

/** JSON key of the id the daemon must echo: usable ids are strings and safe integers; anything else is null. */
export function idKey(id: unknown): string {
  if (typeof id === 'string') return JSON.stringify(id);
  if (typeof id === 'number' && Number.isSafeInteger(id)) return JSON.stringify(id);
  return 'null';
}

/** What the daemon must echo for a line, parsed exactly as it parses it. */
export function expectedKeyOfLine(buf: Buffer): string {
  try {
    const v = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'null';
    return idKey(v['id']);
  } catch {
    return 'null';
  }
}
