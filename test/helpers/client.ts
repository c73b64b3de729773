/**
 * Talking to a test daemon through the SDK: connect, call methods that must
 * fail with a given code, read a running command's output until some text
 * shows up.
 */
import assert from 'node:assert/strict';
import { TrlClient } from '../../src/client/client.js';
import { TrlClientError } from '../../src/client/client-error.js';
import { DEADLINE_MS } from './wait.js';

export { TrlClient, TrlClientError };

export function connect(d: { socketPath: string } | string): Promise<TrlClient> {
  return TrlClient.connect({ socketPath: typeof d === 'string' ? d : d.socketPath });
}

/** Untyped call: for tests that read fields (usage, oom_killed, …) the SDK types may not name yet. */
export function anyCall(c: TrlClient, method: string, params: Record<string, unknown> = {}): Promise<any> {
  return c.call(method, params);
}

/** Call a method that must fail; returns the error (asserting it is a protocol error). */
export async function callErr(c: TrlClient, method: string, params?: Record<string, unknown>): Promise<TrlClientError> {
  let data: unknown;
  try {
    data = await c.call(method, params ?? {});
  } catch (e) {
    if (e instanceof TrlClientError) return e;
    throw e;
  }
  assert.fail(`${method} ${JSON.stringify(params)} succeeded but an error was expected; data: ${JSON.stringify(data)}`);
}

/** Call a method that must fail with `code` and a message; returns the error for further checks. */
export async function expectCode(c: TrlClient, method: string, params: Record<string, unknown>, code: string): Promise<TrlClientError> {
  const e = await callErr(c, method, params);
  assert.equal(e.code, code, `${method} ${JSON.stringify(params).slice(0, 300)}: expected ${code}, got ${e.code}: ${e.message}`);
  assert.ok(e.message.length > 0, 'error message must not be empty');
  return e;
}

/** Long-poll exec.output until `text` shows up on stdout; returns everything read. */
export async function waitForOutput(c: TrlClient, command_id: string, text: string, timeoutMs = DEADLINE_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let all = '';
  let offset = 0;
  while (!all.includes(text)) {
    const left = deadline - Date.now();
    if (left <= 0) assert.fail(`${JSON.stringify(text)} did not appear within ${timeoutMs} ms; output: ${JSON.stringify(all)}`);
    const o = await c.call('exec.output', { command_id, offset, wait_ms: Math.min(left, 1000) });
    all += o.data;
    offset = o.next_offset;
    if (o.eof && !all.includes(text)) assert.fail(`the command ended without printing ${JSON.stringify(text)}; output: ${JSON.stringify(all)}`);
  }
  return all;
}

/** `{path, message}` issues of an INVALID_PARAMS error, paths joined with dots. */
export function issuePaths(e: { details?: Record<string, unknown> | undefined }): string[] {
  const issues = e.details?.['issues'];
  if (!Array.isArray(issues)) return [];
  return issues.map((i: { path?: unknown }) => (Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? '')));
}
