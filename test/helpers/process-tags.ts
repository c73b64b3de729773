/**
 * A session's processes found by the `__TRL_TAG` every one of them inherits
 * (`<instance>:<session tag>:<command tag>`), however they detached.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { anyCall, type TrlClient } from './client.js';
import { allPids, procAlive } from './processes.js';

/** The `__TRL_TAG` value in /proc/<pid>/environ, or null. */
export function procTag(pid: number): string | null {
  let env: string;
  try {
    env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return null;
  }
  for (const kv of env.split('\0')) if (kv.startsWith('__TRL_TAG=')) return kv.slice('__TRL_TAG='.length);
  return null;
}

/** Live processes whose __TRL_TAG starts with `prefix` (e.g. `<instance>:` or `<instance>:<session tag>:`). */
export function taggedProcs(prefix: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const tag = procTag(pid);
    if (tag !== null && tag.startsWith(prefix) && procAlive(pid)) out.push(pid);
  }
  return out;
}

/**
 * The session's process tag as its commands see it: `<instance>:<session tag>:<command tag>`.
 * Runs one command in the session.
 */
export async function sessionTagOf(c: TrlClient, sessionId: string): Promise<{ instance: string; session: string; prefix: string }> {
  const r = await anyCall(c, 'exec.run', { session_id: sessionId, command: 'printf %s "$__TRL_TAG"' });
  const parts = String(r.stdout).split(':');
  assert.equal(parts.length, 3, `__TRL_TAG of a command is ${JSON.stringify(r.stdout)}, expected <instance>:<session>:<command>`);
  return { instance: parts[0]!, session: parts[1]!, prefix: `${parts[0]}:${parts[1]}:` };
}
