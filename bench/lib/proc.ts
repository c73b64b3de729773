import { readFile } from 'node:fs/promises';

/** A field in kB of a /proc file (`VmRSS:   1234 kB`), in bytes. */
async function procKbField(file: string, field: string): Promise<number> {
  const text = await readFile(file, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  if (!match) throw new Error(`no ${field} line in ${file} (is the process alive?)`);
  return Number(match[1]) * 1024;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function readRssBytes(pid: number): Promise<number> {
  return procKbField(`/proc/${pid}/status`, 'VmRSS');
}

/** Anonymous (private, not file-backed) resident bytes of a process, from /proc/<pid>/smaps_rollup (Anonymous). */
export function readAnonBytes(pid: number): Promise<number> {
  return procKbField(`/proc/${pid}/smaps_rollup`, 'Anonymous');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
