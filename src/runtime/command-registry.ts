import type { Config } from '../config/config-schema.js';
import { TrlError } from '../protocol/errors.js';
import type { Command } from './command.js';
import type { Session } from './session.js';

/**
 * Running commands, and finished ones that stay readable for
 * command_retention_s — never more than max_retained_commands of those: past
 * that the oldest finished one is forgotten first, so a busy daemon's memory
 * stays bounded.
 */
export class CommandRegistry {
  private readonly commands = new Map<string, Command>();
  /** Finished commands, oldest first, each with the call that forgets it. */
  private readonly retained = new Map<Command, () => void>();

  constructor(private readonly config: Config) {}

  add(session: Session, cmd: Command): void {
    session.commands.add(cmd);
    this.commands.set(cmd.id, cmd);
  }

  /** The command finished: keep it readable for a while. */
  retain(session: Session, cmd: Command): void {
    const forget = () => {
      clearTimeout(timer);
      this.retained.delete(cmd);
      this.commands.delete(cmd.id);
      session.commands.delete(cmd);
    };
    const timer = setTimeout(forget, this.config.command_retention_s * 1000);
    timer.unref();
    this.retained.set(cmd, forget);
    while (this.retained.size > this.config.max_retained_commands) {
      const oldest = this.retained.values().next().value;
      oldest?.();
    }
  }

  get(id: string): Command {
    const cmd = this.commands.get(id);
    if (!cmd) {
      throw new TrlError(
        'COMMAND_NOT_FOUND',
        `no command '${id}'; it never existed, or it ended and was forgotten (after command_retention_s ${this.config.command_retention_s} s, or as the oldest of more than max_retained_commands ${this.config.max_retained_commands}); list commands with exec.list`,
        { command_id: id },
      );
    }
    return cmd;
  }

  all(): Command[] {
    return [...this.commands.values()];
  }
}
