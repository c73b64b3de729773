#!/usr/bin/env -S node --max-semi-space-size=1 --heap-growing-percent=600 --no-sparkplug
/**
 * `trl-claw-core`: a stand-in for claw-core's daemon executable `claw_core`,
 * so that what starts claw-core (its OpenClaw plugin's daemon script:
 * `"$BINARY" --socket-path "$SOCKET_PATH"`) starts `trl serve --compat
 * claw-core` instead. It takes claw-core's flags; the ones trl has no
 * counterpart for are dropped with a warning. It runs the daemon in this very
 * process, so the pid a script records is the daemon's and its SIGTERM stops it.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** claw-core's flags that trl takes under the same name (`--max-idle-sec`, `--session-ttl-sec`: trl's old names, still accepted). */
const SAME = new Set(['--socket-path', '--max-sessions', '--default-timeout-s', '--max-output-bytes', '--max-idle-sec', '--session-ttl-sec', '--session-max-commands', '--env-file']);
/** claw-core's flags without a counterpart in trl: dropped with their value. */
const DROPPED: Record<string, string> = {
  '--fd-warning-threshold': 'trl refuses new sessions at 90% of its open-files limit',
  '--memory-pressure-mb': 'see --max-daemon-rss-bytes',
  '--child-cpu-sec': 'sessions ask for limits.cpu_s; --max-cpu-s caps it',
  '--child-memory-bytes': 'sessions ask for limits.memory_bytes; --max-memory-bytes caps it',
  '--child-nproc': 'sessions ask for limits.pids; --max-pids caps it',
};

export interface Translated {
  args: string[];
  warnings: string[];
}

/** claw_core's command line → `trl serve --compat claw-core …`. */
export function translateArgs(argv: readonly string[]): Translated {
  const args = ['serve', '--compat', 'claw-core'];
  const warnings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = flag !== arg;
    if (flag === '--allow-root') args.push(arg);
    else if (SAME.has(flag)) {
      args.push(arg);
      if (!inline && i + 1 < argv.length) args.push(argv[++i]!);
    } else if (flag in DROPPED) {
      if (!inline) i++;
      warnings.push(`claw_core's ${flag} has no trl counterpart and is ignored (${DROPPED[flag]})`);
    } else args.push(arg);
  }
  return { args, warnings };
}

/** Run as a program (also through a symlink named claw_core), not imported. */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  const { args, warnings } = translateArgs(process.argv.slice(2));
  for (const w of warnings) process.stderr.write(`trl-claw-core: ${w}\n`);
  // trl's own entry point reads process.argv as it loads.
  process.argv = [process.argv[0]!, fileURLToPath(new URL('../cli/main.js', import.meta.url)), ...args];
  await import('../cli/main.js');
}
