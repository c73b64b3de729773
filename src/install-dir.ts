import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * trl's installation: the directory of its package.json, found by walking up
 * from this module. The code runs from two places in it: the bundle the CLI
 * and daemon start from (dist/trl/, scripts/bundle.ts) and the modules tsc
 * compiled (dist/src/, which the SDK and the separate processes — the files
 * helper, the walk worker — load). A path relative to a module would differ
 * between them; one relative to the installation does not.
 */
export const INSTALL_DIR: string = findInstallDir(dirname(fileURLToPath(import.meta.url)));

function findInstallDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && isTrl(manifest)) return dir;
    if (dirname(dir) === dir) throw new Error(`trl's package.json was not found above ${from}: reinstall trl (npm ci)`);
  }
}

function isTrl(manifest: string): boolean {
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'trl';
  } catch {
    return false;
  }
}

/** A file of the compiled modules (dist/src/…), by its path below src/: for what runs in a process or thread of its own. */
export function compiledPath(pathUnderSrc: string): string {
  return join(INSTALL_DIR, 'dist', 'src', pathUnderSrc);
}
