/**
 * The POSIX shells a session may use, for the tests of the state capture in
 * each: bash, dash, zsh, mksh and busybox sh. busybox picks its applet by the
 * name it was started under, and a session shell is a path with no arguments,
 * so it runs through a symlink named `sh`. A shell that is not installed is
 * skipped with the reason — except under TRL_REQUIRE_TIERS=1 (CI), where the
 * reason is a failure.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

export interface TestShell {
  name: string;
  /** Absolute path to start it by (busybox: a symlink named `sh`), or null when missing. */
  path: string | null;
  /** Why it cannot be tested here, or null. */
  missing: string | null;
}

const INSTALL: Record<string, string> = { bash: 'bash', dash: 'dash', zsh: 'zsh', mksh: 'mksh', busybox: 'busybox-static' };

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p.startsWith('/') ? p : null;
}

let linkDir: string | null = null;

/** The five shells, each with its path or the reason it is missing. Call `removeShellLinks` in `after`. */
export function testShells(): TestShell[] {
  return Object.keys(INSTALL).map((name) => {
    const found = which(name);
    if (!found) return { name, path: null, missing: `${name} is not installed: apt-get install -y ${INSTALL[name]}` };
    if (name !== 'busybox') return { name, path: found, missing: null };
    linkDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'trl-busybox-'));
    const link = path.join(linkDir, 'sh');
    if (!fs.existsSync(link)) fs.symlinkSync(found, link);
    return { name, path: link, missing: null };
  });
}

export function removeShellLinks(): void {
  if (linkDir) fs.rmSync(linkDir, { recursive: true, force: true });
  linkDir = null;
}

/** For the first line of a test: skip (or, under TRL_REQUIRE_TIERS=1, fail) when the shell is missing; true when skipped. */
export function skipMissing(t: TestContext, shell: TestShell): boolean {
  if (!shell.missing) return false;
  if (process.env.TRL_REQUIRE_TIERS === '1') throw new Error(`TRL_REQUIRE_TIERS=1 but ${shell.missing}`);
  console.log(`# skipping ${shell.name}: ${shell.missing}`);
  t.skip(shell.missing);
  return true;
}
