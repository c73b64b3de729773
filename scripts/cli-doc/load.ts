/**
 * The inputs of docs/cli.md: the whole `trl` program (every command module
 * registered) built in a neutral environment, so that no default taken from
 * this machine's variables (TRL_*, $SHELL, …) lands in the file, and the
 * texts of the modules that own the exit statuses and the word rule.
 */
import type { Command } from 'commander';
import type { CliDocParts } from './render.js';

/** An export of a module of the CLI that may not exist yet: its text, or null. */
async function optionalText(module: string, name: string): Promise<string | null> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL(`../../src/cli/${module}`, import.meta.url).href)) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
  const value = mod[name];
  return typeof value === 'string' ? value : null;
}

export async function loadCliDocInput(): Promise<{ program: Command; parts: CliDocParts }> {
  for (const key of Object.keys(process.env)) if (key !== 'PATH') delete process.env[key];
  const [{ createProgram }, { defaultSocketPath }] = await Promise.all([import('../../src/cli/program.js'), import('../../src/protocol/transport.js')]);
  // `trl --help`: every command module is registered.
  const program = await createProgram(['node', 'trl', '--help']);
  const [exitTable, wordRule] = await Promise.all([optionalText('exit-codes.js', 'EXIT_TABLE'), optionalText('word-rule.js', 'WORD_RULE')]);
  return {
    program,
    parts: {
      exitTable,
      wordRule,
      defaultTexts: new Map([[defaultSocketPath(), '`$XDG_RUNTIME_DIR/trl/trl.sock`, else `/tmp/trl-<uid>/trl.sock`']]),
    },
  };
}
