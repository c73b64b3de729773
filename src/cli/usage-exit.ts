import { CommanderError, type Command } from 'commander';
import { EXIT } from './exit-codes.js';

/**
 * For commands that exit with a command's own status (exec, attach, shell):
 * like `docker run`, trl's own failures, usage errors included, exit 125 so
 * they cannot be taken for the command's status.
 */
export function usageErrorsExit125(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(EXIT.EXEC_TRL_FAILED, err.code, err.message);
  });
}
