import type { ExecResult } from '../protocol/exec.js';
import { CLAW_CORE_PROFILE } from './claw-core.js';

/** The `compat` setting's values: each names a profile of src/compat/. */
export const COMPAT_NAMES = ['claw-core'] as const;
export type CompatName = (typeof COMPAT_NAMES)[number];

/**
 * Where a daemon started with `--compat NAME` behaves as another runtime's
 * clients expect instead of as trl does. The rest of the code asks its
 * profile (profileOf) and never the setting itself, so each profile's
 * differences stay in its own file and the native profile is trl unchanged.
 */
export interface CompatProfile {
  /** The `compat` value, or `native`. */
  readonly name: CompatName | 'native';
  /** The Unix socket when `socket_path` is not set; null: trl's own default (defaultSocketPath). */
  readonly socketPath: string | null;
  /** cwd of host sessions that name none when `default_working_dir` is not set; null: the daemon's cwd. */
  readonly workingDir: string | null;
  /** `persist_state` of a command that does not say: whether its final cwd and exports carry over. */
  readonly persistState: boolean;
  /** Whether live sessions must have different names. */
  readonly uniqueNames: boolean;
  /**
   * Whether a command without state capture runs as the program
   * `<shell> -c <command>` with nothing of trl's shell code before it, so
   * that any executable (python3) can be the session's shell.
   */
  readonly shellAsProgram: boolean;
  /** exec.run's answer for a command that ended: its result as trl makes it, changed, or an error thrown. */
  runResult(result: ExecResult): ExecResult;
}

/** trl's own behaviour. */
export const NATIVE_PROFILE: CompatProfile = {
  name: 'native',
  socketPath: null,
  workingDir: null,
  persistState: true,
  uniqueNames: true,
  shellAsProgram: false,
  runResult: (result) => result,
};

/** The profile a daemon's settings select. */
export function profileOf(config: { compat?: CompatName | undefined }): CompatProfile {
  return config.compat === undefined ? NATIVE_PROFILE : PROFILES[config.compat];
}

const PROFILES: Record<CompatName, CompatProfile> = {
  'claw-core': CLAW_CORE_PROFILE,
};
