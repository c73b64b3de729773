import { readFile } from 'node:fs/promises';

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS, in kB). */
export async function readRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status (is the process alive?)`);
  return Number(match[1]) * 1024;
}

/** Anonymous (private, not file-backed) resident bytes of a process, from /proc/<pid>/smaps_rollup (Anonymous, in kB). */
export async function readAnonBytes(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const match = /^Anonymous:\s+(\d+)\s+kB$/m.exec(rollup);
  if (!match) throw new Error(`no Anonymous line in /proc/${pid}/smaps_rollup (is the process alive?)`);
  return Number(match[1]) * 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
