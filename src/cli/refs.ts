import type { AnyTrlClient } from '../client/connect.js';
import { CliError } from './cli-error.js';

/** A full session or command id: a UUID, used as it is. */
const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function ambiguous(kind: string, ref: string, candidates: string[]): CliError {
  const shown = candidates.slice(0, 10).join('\n  ');
  return new CliError(`'${ref}' matches ${candidates.length} ${kind}s; give more of the id:\n  ${shown}${candidates.length > 10 ? '\n  …' : ''}`);
}

/**
 * A session by id, name, or unique id prefix (as docker takes container
 * names and short ids). A full id is passed through untouched: the daemon
 * says whether it exists.
 */
export async function resolveSession(client: AnyTrlClient, ref: string): Promise<string> {
  if (FULL_ID.test(ref)) return ref;
  const { sessions } = await client.call('session.list', {});
  const named = sessions.find((s) => s.name === ref);
  if (named) return named.session_id;
  const matches = sessions.filter((s) => s.session_id.startsWith(ref.toLowerCase()));
  if (matches.length === 1) return matches[0]!.session_id;
  if (matches.length > 1)
    throw ambiguous(
      'session',
      ref,
      matches.map((s) => `${s.session_id}${s.name ? `  ${s.name}` : ''}`),
    );
  throw new CliError(`no session named '${ref}' or whose id starts with it; list sessions with trl session ls, or create one with trl session create --name ${ref}`);
}

/** A command by id or unique id prefix, among the commands the daemon still has. */
export async function resolveCommand(client: AnyTrlClient, ref: string): Promise<string> {
  if (FULL_ID.test(ref)) return ref;
  const { commands } = await client.call('exec.list', {});
  const matches = commands.filter((c) => c.command_id.startsWith(ref.toLowerCase()));
  if (matches.length === 1) return matches[0]!.command_id;
  if (matches.length > 1)
    throw ambiguous(
      'command',
      ref,
      matches.map((c) => `${c.command_id}  ${c.state}  ${(c.command ?? '').slice(0, 60)}`),
    );
  throw new CliError(`no command whose id starts with '${ref}'; list commands with trl ps`);
}
