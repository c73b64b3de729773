/**
 * The TypeScript half of the shared behaviour cases (client-cases.json, read
 * as README.md here says): loading, substitution, the step loop and the
 * checks. A runner brings an executor that performs one step its own way (the
 * SDK, the CLI) and, for a result it observes differently, its own comparison.
 */
import { isDeepStrictEqual } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, makeTempDir } from '../helpers/daemon.js';
import { DEADLINE_MS, waitFor } from '../helpers/wait.js';

export const CASES_FILE = path.join(REPO_ROOT, 'test', 'cases', 'client-cases.json');

export interface Step {
  method: string;
  params?: Record<string, unknown>;
  save?: string;
  expect?: Record<string, unknown>;
  contains?: Record<string, string>;
  error?: string;
}

export interface Case {
  name: string;
  session?: Record<string, unknown>;
  cli_skip?: string;
  steps: Step[];
}

export type Result = Record<string, unknown>;

/** A step that failed with a protocol error code (how the runner saw it: an SDK error, or `trl: CODE:` on stderr). */
export class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Runner {
  /** Perform one step; resolve with its result, or reject with a StepError carrying the protocol code. */
  execute(method: string, params: Record<string, unknown>): Promise<Result>;
  /** null when `result[field]` is what the case expects (`expect`: all the step expects), else why not. Default: deep equality. */
  compare?(method: string, field: string, want: unknown, result: Result, expect: Record<string, unknown>): string | null;
  /** session.create for the case (not under test); its id. */
  createSession(params: Record<string, unknown>): Promise<string>;
  /** session.destroy after the case; it may be gone already. */
  destroySession(id: string): Promise<void>;
}

export function loadCases(): Case[] {
  const doc = JSON.parse(fs.readFileSync(CASES_FILE, 'utf8')) as { format: number; cases: Case[] };
  if (doc.format !== 1) throw new Error(`unknown case format ${doc.format} in ${CASES_FILE}`);
  return doc.cases;
}

/** `${name}` of a known name replaced in every string; any other `${…}` is shell syntax and stays. */
export function substitute<T>(value: T, names: Record<string, string>): T {
  if (typeof value === 'string') return value.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => names[name] ?? whole) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => substitute(v, names)) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v as unknown, names)])) as T;
  return value;
}

/** Poll the command's buffered output (exec.output through the runner) until it contains the text. */
async function awaitOutput(r: Runner, params: Record<string, unknown>): Promise<Result> {
  const { command_id, contains, stream } = params as { command_id: string; contains: string; stream?: string };
  const p: Record<string, unknown> = { command_id };
  if (stream !== undefined) p['stream'] = stream;
  let last = '';
  const seen = await waitFor(async () => {
    last = String((await r.execute('exec.output', p))['data'] ?? '');
    return last.includes(contains);
  }, DEADLINE_MS);
  if (!seen) throw new Error(`gave up waiting for ${JSON.stringify(contains)} in the ${stream ?? 'stdout'} of ${command_id}; it has ${JSON.stringify(last)}`);
  return {};
}

/** Run one case in a fresh workspace and session; throws an Error naming the step that went wrong. */
export async function runCase(r: Runner, c: Case): Promise<void> {
  const workspace = fs.realpathSync(makeTempDir('/tmp/trl-case-'));
  const session = await r.createSession({ working_dir: workspace, ...(c.session ?? {}) });
  const names: Record<string, string> = { session, workspace };
  try {
    for (const [i, step] of c.steps.entries()) {
      const where = `${c.name}: step ${i + 1} (${step.method})`;
      const params = substitute(step.params ?? {}, names);
      let result: Result;
      try {
        result = step.method === 'await_output' ? await awaitOutput(r, params) : await r.execute(step.method, params);
      } catch (err) {
        if (err instanceof StepError && step.error === err.code) continue;
        throw new Error(`${where} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (step.error !== undefined) throw new Error(`${where} succeeded, but the case expects ${step.error}: ${JSON.stringify(result).slice(0, 500)}`);
      if (step.save !== undefined) names[step.save] = String(result['command_id']);
      const expect = substitute(step.expect ?? {}, names);
      for (const [field, want] of Object.entries(expect)) {
        const why = r.compare ? r.compare(step.method, field, want, result, expect) : deepCompare(field, want, result);
        if (why !== null) throw new Error(`${where}: ${why}`);
      }
      for (const [field, text] of Object.entries(substitute(step.contains ?? {}, names))) {
        const got = String(result[field] ?? '');
        if (!got.includes(text)) throw new Error(`${where}: ${field} ${JSON.stringify(got)} does not contain ${JSON.stringify(text)}`);
      }
    }
  } finally {
    await r.destroySession(session);
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

export function deepCompare(field: string, want: unknown, result: Result): string | null {
  if (!(field in result)) return `the result has no ${field} (expected ${JSON.stringify(want)}): ${JSON.stringify(result).slice(0, 500)}`;
  return isDeepStrictEqual(result[field], want) ? null : `${field} is ${JSON.stringify(result[field])}, expected ${JSON.stringify(want)}`;
}

/** Join the output events of a stream and merge in the exit event's data: the result a streaming step is compared by. */
export function streamResult(events: Array<{ event: string; data?: unknown }>): Result {
  let stdout = '';
  let stderr = '';
  let exit: Result | null = null;
  for (const ev of events) {
    if (ev.event === 'stdout') stdout += String(ev.data);
    else if (ev.event === 'stderr') stderr += String(ev.data);
    else if (ev.event === 'exit') exit = (ev.data ?? {}) as Result;
  }
  if (exit === null) throw new Error(`the stream ended without an exit event: ${JSON.stringify(events).slice(0, 500)}`);
  return { ...exit, stdout, stderr };
}
