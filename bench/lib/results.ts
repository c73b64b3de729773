import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Write the full record to bench/results/<timestamp>.json and latest.json.
 * Colons of the ISO time become dashes so the name is portable.
 */
export async function writeResults(repoRoot: string, timestamp: string, record: unknown): Promise<string> {
  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const body = JSON.stringify(record, null, 2) + '\n';
  const file = join(dir, `${timestamp.replace(/:/g, '-')}.json`);
  await writeFile(file, body);
  await writeFile(join(dir, 'latest.json'), body);
  return file;
}
