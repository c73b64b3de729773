/**
 * The files jail's race harness (issue 13): a command in the session swaps
 * `r/d` between a directory and a symlink to `/` in a tight loop while
 * fs.read, fs.write, fs.edit and fs.list run against paths under `r/d`. A
 * jail that checks a path and opens it later reads, writes, edits or lists
 * the tier's own /tmp now and then; one enforced where the file is opened
 * never does. Used by test/files-race.test.ts (a few attempts) and
 * scripts/race.ts (`npm run race`, 1,000 per method per tier).
 *
 * Decoys live in /tmp as the tier sees it (made through exec.run, so in the
 * sandbox's or container's /tmp), writable by the session's user: an escape
 * would succeed and be seen.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { TrlClient } from '../../src/client/client.js';

export const RACE_METHODS = ['fs.read', 'fs.write', 'fs.edit', 'fs.list'] as const;
export type RaceMethod = (typeof RACE_METHODS)[number];

export interface RaceReport {
  method: RaceMethod;
  attempts: number;
  /** Answers that reached the directory inside the workspace. */
  inside: number;
  /** Refusals, by error code. */
  refused: Record<string, number>;
  /** Answers or effects that reached /tmp outside the workspace: must be 0. */
  escapes: number;
  /** What the escapes were, a few of them. */
  examples: string[];
  /** Refusals with a code the jail does not give (INTERNAL_ERROR …): a few messages. */
  unexpected: string[];
}

/** What a call racing the swaps may be refused with. */
export const EXPECTED_REFUSALS: readonly string[] = ['PATH_OUTSIDE_WORKSPACE', 'PATH_NOT_FOUND', 'NOT_A_DIRECTORY', 'NOT_A_FILE', 'PATH_EXISTS', 'PERMISSION_DENIED'];

/** Requests in flight at once per method: enough to overlap the swaps, few enough for a loaded machine. */
const IN_FLIGHT = 4;

/**
 * Run `attempts` calls of every method in RACE_METHODS against session
 * `sid` (its workspace `ws` as the daemon sees it) while the swap loop runs.
 */
export async function runFsRace(client: TrlClient, sid: string, attempts: number): Promise<RaceReport[]> {
  const tag = `trl-race-${randomBytes(4).toString('hex')}`;
  const run = async (command: string) => {
    const r = (await client.call('exec.run', { session_id: sid, command, timeout_s: 120 })) as { exit_code: number | null; stdout: string; stderr: string };
    if (r.exit_code !== 0) throw new Error(`race setup failed (${command.slice(0, 80)}…): exit ${r.exit_code}: ${r.stderr.trim().slice(-300)}`);
    return r.stdout;
  };
  await run(
    [
      `printf 'outside\\n' > /tmp/${tag}-read`,
      `printf 'outside\\n' > /tmp/${tag}-edit`,
      `: > /tmp/${tag}-only`,
      `mkdir -p r/dirv/tmp`,
      `printf 'inside\\n' > r/dirv/tmp/${tag}-read`,
      `printf 'inside\\n' > r/dirv/tmp/${tag}-edit`,
      `ln -s / r/lnkv`,
    ].join(' && '),
  );
  // r/d: a directory, gone, a link to /, gone, … as fast as the shell renames.
  const swapper = (await client.call('exec.start', { session_id: sid, command: 'cd r && while :; do mv dirv d; mv d dirv; mv lnkv d; mv d lnkv; done' })) as { command_id: string };
  const reports: RaceReport[] = [];
  try {
    for (const method of RACE_METHODS) reports.push(await raceOne(client, sid, tag, method, attempts));
  } finally {
    await client.call('exec.cancel', { command_id: swapper.command_id }).catch(() => undefined);
  }
  // Effects: no decoy changed, no written file outside, in the tier's /tmp and in the daemon's.
  const outsideState = await run(`cat /tmp/${tag}-edit; ls /tmp | grep -c -- '^${tag}-w' || true`);
  const [editContent, written] = [outsideState.split('\n')[0], Number(outsideState.trim().split('\n').pop())];
  const edit = reports.find((r) => r.method === 'fs.edit')!;
  if (editContent !== 'outside') note(edit, `the decoy /tmp/${tag}-edit now reads ${JSON.stringify(editContent)}`);
  const write = reports.find((r) => r.method === 'fs.write')!;
  if (written > 0) for (let i = 0; i < written; i++) note(write, `a file /tmp/${tag}-w… was written outside`);
  const hostWritten = fs.readdirSync('/tmp').filter((n) => n.startsWith(`${tag}-w`)).length;
  if (hostWritten > 0 && written === 0) for (let i = 0; i < hostWritten; i++) note(write, `a file /tmp/${tag}-w… was written in the daemon's /tmp`);
  await run(`rm -f /tmp/${tag}-*`).catch(() => undefined);
  for (const n of fs.readdirSync('/tmp')) if (n.startsWith(`${tag}-`)) fs.rmSync(`/tmp/${n}`, { force: true });
  return reports;
}

function note(r: RaceReport, what: string): void {
  r.escapes++;
  if (r.examples.length < 5) r.examples.push(what);
}

async function raceOne(client: TrlClient, sid: string, tag: string, method: RaceMethod, attempts: number): Promise<RaceReport> {
  const report: RaceReport = { method, attempts, inside: 0, refused: {}, escapes: 0, examples: [], unexpected: [] };
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const params: Record<string, unknown> =
      method === 'fs.read'
        ? { path: `r/d/tmp/${tag}-read` }
        : method === 'fs.write'
          ? { path: `r/d/tmp/${tag}-w${i}`, content: 'written\n' }
          : method === 'fs.edit'
            ? // Only the outside decoy holds `outside`: an edit that applies has escaped.
              { path: `r/d/tmp/${tag}-edit`, edits: [{ old: 'outside', new: 'escaped' }] }
            : { path: 'r/d/tmp' };
    let result: any;
    try {
      result = await client.call(method, { session_id: sid, ...params });
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'THROWN';
      // The inside file lacks `outside`: the edit found the inside file, which is no escape.
      if (method === 'fs.edit' && code === 'INVALID_PARAMS' && /does not occur/.test(String((e as Error).message))) report.inside++;
      else {
        report.refused[code] = (report.refused[code] ?? 0) + 1;
        if (!EXPECTED_REFUSALS.includes(code) && report.unexpected.length < 5) report.unexpected.push(`${code}: ${String((e as Error).message).slice(0, 300)}`);
      }
      return;
    }
    const escaped =
      method === 'fs.read'
        ? result.content !== 'inside\n'
        : method === 'fs.edit'
          ? true
          : method === 'fs.list'
            ? (result.entries as Array<{ name: string }>).some((e) => !e.name.startsWith(`${tag}-`) || e.name === `${tag}-only`)
            : false; // a write is judged by what it left in /tmp (runFsRace)
    if (escaped) note(report, `${method} answered ${JSON.stringify(result).slice(0, 200)}`);
    else report.inside++;
  };
  const worker = async () => {
    while (next < attempts) await one(next++);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return report;
}

/** One line per method: attempts, inside, refused (by code), escapes. */
export function formatRace(tier: string, reports: RaceReport[]): string {
  return reports
    .map((r) => {
      const refused = Object.entries(r.refused)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ');
      return `${tier.padEnd(8)} ${r.method.padEnd(9)} attempts ${String(r.attempts).padStart(5)}  inside ${String(r.inside).padStart(5)}  refused ${refused || '0'}  escapes ${r.escapes}${r.examples.length ? `  (${r.examples.join('; ')})` : ''}${r.unexpected.length ? `\n         unexpected: ${r.unexpected.join(' | ')}` : ''}`;
    })
    .join('\n');
}
