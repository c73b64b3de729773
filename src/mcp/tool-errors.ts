import { TrlClientError } from '../client/client-error.js';

/**
 * A failed call as the model should read it: the daemon's message in the
 * terms of the MCP tools (the daemon names its protocol methods), prefixed by
 * its code. The SDK turns a thrown Error into a tool result with isError.
 */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

const TOOL_WORDS: Array<[RegExp, string]> = [
  [/\bexec\.output\b/g, 'the output tool'],
  [/\bexec\.input\b/g, 'the input tool'],
  [/\bexec\.cancel\b/g, 'the stop tool'],
  [/\bexec\.wait\b/g, 'the output tool'],
  [/\bexec\.(list|info)\b/g, 'the list tool'],
  [/\bsession\.(list|info)\b/g, 'the list tool'],
  [/\bexec\.start\b/g, 'run with interactive: true'],
  [/\bstdin_open: true\b/g, 'interactive: true'],
];

export function inToolTerms(message: string): string {
  let out = message;
  for (const [re, words] of TOOL_WORDS) out = out.replace(re, words);
  return out;
}

/** The error a tool reports for a failed daemon call (other errors pass unchanged). */
export function toolErrorOf(err: unknown): Error {
  if (!(err instanceof TrlClientError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === 'CONNECTION_CLOSED') return new ToolError(`the trl daemon cannot be reached: ${err.message}`);
  if (err.code === 'COMMAND_NOT_FOUND') {
    return new ToolError(`COMMAND_NOT_FOUND: ${inToolTerms(err.message)}; a finished command stays readable for the daemon's command_retention_s (300 s unless its operator changed it)`);
  }
  return new ToolError(`${err.code}: ${inToolTerms(err.message)}`);
}

/** Run a tool body; a daemon error becomes a tool error the model can act on. */
export async function asTool<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toolErrorOf(err);
  }
}

export function isCode(err: unknown, code: string): boolean {
  return err instanceof TrlClientError && err.code === code;
}
