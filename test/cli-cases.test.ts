/**
 * The shared behaviour cases (test/cases/client-cases.json) through the `trl`
 * CLI (dist/src/cli/main.js): each step is the verb that sends its method
 * (test/cases/README.md, "How the CLI observes a result"). A case marked
 * `cli_skip` is skipped with its reason; a step or an expected field the CLI
 * cannot express in a case not so marked fails, so the marking stays honest.
 * Sessions are set up and torn down through the SDK (not under test).
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { describe, it } from 'node:test';
import type { TrlClient } from '../src/index.js';
import { TrlClientError } from '../src/client/client-error.js';
import { MAIN_JS } from './helpers/daemon.js';
import { useDaemon } from './helpers/fixture.js';
import { deepCompare, loadCases, runCase, StepError, streamResult, type Result, type Runner } from './cases/runner.js';

/** Kills a hung CLI so that the case fails with what it printed; every CLI call here ends on its own well before. */
const CLI_KILL_MS = 5 * 60_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function trl(args: string[], input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN_JS, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), CLI_KILL_MS);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

/** The protocol error the CLI reported (`trl: CODE: message` on stderr), if any. */
function reportedError(r: Ran): StepError | null {
  const m = /^trl: ([A-Z][A-Z_]+): /m.exec(r.stderr);
  return r.code !== 0 && m ? new StepError(m[1]!, r.stderr.trim()) : null;
}

/** A run of a verb that must succeed (or report a protocol error). */
async function verb(args: string[], input?: string): Promise<Ran> {
  const r = await trl(args, input);
  const err = reportedError(r);
  if (err) throw err;
  if (r.code !== 0) throw new Error(`trl ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Refuse params the CLI has no flag for: the case must say cli_skip instead. */
function only(method: string, params: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(params))
    if (!allowed.includes(k)) throw new Error(`the CLI cannot express ${method} param '${k}'; mark the case with cli_skip and the reason, or give the CLI a flag for it`);
}

function commandFlags(p: Record<string, unknown>): string[] {
  const flags: string[] = ['-s', String(p['session_id'])];
  if (p['working_dir'] !== undefined) flags.push('--cwd', String(p['working_dir']));
  for (const [k, v] of Object.entries((p['env'] ?? {}) as Record<string, string>)) flags.push('-e', `${k}=${v}`);
  if (p['timeout_s'] !== undefined) flags.push('--timeout', String(p['timeout_s']));
  return flags;
}

function words(p: Record<string, unknown>): string[] {
  return p['argv'] !== undefined ? ['--no-shell', '--', ...(p['argv'] as string[])] : ['--', String(p['command'])];
}

function cliRunner(socket: string, sdk: () => TrlClient): Runner {
  const s = ['--socket', socket];
  const attachJson = async (p: Record<string, unknown>): Promise<Result> => {
    const from = p['from_offset'] !== undefined ? ['--from', String(p['from_offset'])] : [];
    const r = await trl(['attach', '--json', ...s, ...from, String(p['command_id'])]);
    const err = reportedError(r);
    if (err) throw err;
    return streamResult(
      r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { event: string; data?: unknown }),
    );
  };
  return {
    async execute(method, p) {
      switch (method) {
        case 'exec.run':
        case 'exec.stream': {
          only(method, p, ['session_id', 'command', 'argv', 'env', 'working_dir', 'timeout_s', 'stdin']);
          const stdin = p['stdin'] === undefined ? ['-n'] : [];
          const r = await trl(['exec', ...s, ...commandFlags(p), ...stdin, ...words(p)], p['stdin'] as string | undefined);
          const err = r.code === 125 ? reportedError(r) : null;
          if (err) throw err;
          return { stdout: r.stdout, stderr: r.stderr, status: r.code };
        }
        case 'exec.start': {
          only(method, p, ['session_id', 'command', 'argv', 'env', 'working_dir', 'timeout_s', 'stdin_open']);
          const i = p['stdin_open'] === true ? ['-i'] : [];
          const r = await verb(['start', ...s, ...commandFlags(p), ...i, ...words(p)]);
          return { command_id: r.stdout.trim() };
        }
        case 'exec.output': {
          only(method, p, ['command_id', 'stream', 'offset']);
          const flags = [...(p['stream'] === 'stderr' ? ['--stderr'] : []), ...(p['offset'] !== undefined ? ['--from', String(p['offset'])] : [])];
          return { data: (await verb(['logs', ...s, ...flags, String(p['command_id'])])).stdout };
        }
        case 'exec.wait':
          only(method, p, ['command_id']);
          return attachJson(p);
        case 'exec.attach':
          only(method, p, ['command_id', 'from_offset']);
          if (p['from_offset'] !== undefined && typeof p['from_offset'] !== 'number') throw new Error('trl attach --from takes one offset for both streams; mark the case cli_skip');
          return attachJson(p);
        case 'exec.signal':
          only(method, p, ['command_id', 'signal']);
          await verb(['kill', ...s, '--signal', String(p['signal']), String(p['command_id'])]);
          return {};
        case 'exec.cancel':
          only(method, p, ['command_id']);
          await verb(['kill', ...s, String(p['command_id'])]);
          return {};
        case 'fs.write': {
          only(method, p, ['session_id', 'path', 'content', 'overwrite', 'make_parents', 'mode']);
          const flags = [...(p['overwrite'] === true ? ['--overwrite'] : []), ...(p['make_parents'] === true ? ['-p'] : []), ...(p['mode'] !== undefined ? ['--mode', String(p['mode'])] : [])];
          await verb(['fs', 'put', ...s, '-s', String(p['session_id']), ...flags, '-', String(p['path'])], String(p['content']));
          return {};
        }
        case 'fs.read':
          only(method, p, ['session_id', 'path']);
          return { content: (await verb(['fs', 'get', ...s, '-s', String(p['session_id']), String(p['path']), '-'])).stdout };
        case 'session.info':
          only(method, p, ['session_id']);
          return JSON.parse((await verb(['session', 'info', '--json', ...s, String(p['session_id'])])).stdout) as Result;
        case 'session.destroy':
          only(method, p, ['session_id', 'force']);
          return JSON.parse((await verb(['session', 'rm', '--json', ...s, ...(p['force'] === true ? ['--force'] : []), String(p['session_id'])])).stdout) as Result;
        default:
          throw new Error(`no trl verb sends ${method}; mark the case with cli_skip and the reason`);
      }
    },
    compare(method, field, want, result, expect) {
      if (method === 'fs.read' && field !== 'content') return `trl fs get shows the content only, not ${field}; mark the case cli_skip`;
      if (method !== 'exec.run' && method !== 'exec.stream') return deepCompare(field, want, result);
      const status = result['status'] as number | null;
      const timedOut = expect['timed_out'] === true;
      switch (field) {
        case 'stdout':
        case 'stderr':
          return deepCompare(field, want, result);
        case 'timed_out':
          return (status === 124) === want ? null : `exit status ${status}: timed_out is ${status === 124}, expected ${String(want)}`;
        case 'exit_code':
          // A timed-out command's own exit code is hidden behind status 124.
          return timedOut || status === want ? null : `exit status ${status}, expected ${JSON.stringify(want)}`;
        case 'signal': {
          if (timedOut) return null;
          if (want === null) return status !== null && status <= 128 ? null : `exit status ${status} says a signal, expected none`;
          const n = os.constants.signals[want as keyof typeof os.constants.signals];
          return status === 128 + n ? null : `exit status ${status}, expected ${128 + n} (${String(want)})`;
        }
        default:
          return `trl exec shows the output and the exit status, not ${field}; mark the case cli_skip`;
      }
    },
    createSession: async (params) => ((await sdk().call('session.create', params)) as { session_id: string }).session_id,
    destroySession: async (id) => {
      await sdk()
        .call('session.destroy', { session_id: id, force: true })
        .catch((err: unknown) => {
          if (!(err instanceof TrlClientError && err.code === 'SESSION_NOT_FOUND')) throw err;
        });
    },
  };
}

// A few cases at a time: each has a workspace and a session of its own (test/cases/README.md).
describe('shared behaviour cases through the trl CLI', { concurrency: 4 }, () => {
  const { d, c: sdk } = useDaemon({ flags: ['--kill-grace-s', '1'] });

  for (const c of loadCases()) {
    it(c.name, async (t) => {
      if (c.cli_skip !== undefined) {
        t.skip(`cli_skip: ${c.cli_skip}`);
        return;
      }
      await runCase(
        cliRunner(d.socketPath, () => sdk),
        c,
      );
    });
  }
});
