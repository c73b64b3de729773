/**
 * The sandbox's Perl programs, for every ABI the filters are built for: the
 * entry (each variant) and the entry forker. A syscall name missing from an
 * ABI's table would put `undefined` in a program, and a quoting slip would
 * break it; either would only show on that machine, at its first sandbox
 * command. `perl -c` compiles each without running it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { SECCOMP_ARCHES } from '../../src/tiers/shared/seccomp/arch.js';
import { entryScript } from '../../src/tiers/sandbox/sandbox-entry.js';
import { forkerScript } from '../../src/tiers/sandbox/entry-forker.js';

function compiles(script: string): string {
  return execFileSync('perl', ['-t', '-C0', '-c', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) + 'ok';
}

describe('sandbox Perl programs', () => {
  for (const arch of SECCOMP_ARCHES) {
    it(`compile for ${arch}, every variant, with no undefined number`, () => {
      const entries = [entryScript(arch, 4, false), entryScript(arch, null, false), entryScript(arch, null, true), entryScript(arch, 4, true)];
      for (const script of [...entries, forkerScript(arch, entries[0]!)]) {
        assert.doesNotMatch(script, /undefined|NaN/, 'a syscall or constant is missing');
        assert.doesNotThrow(() => compiles(script), 'perl -c refused the program');
      }
    });
  }
});
