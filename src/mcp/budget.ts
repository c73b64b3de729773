/**
 * Output budgets in the model's terms. A token is counted as 4 bytes of
 * output (the estimate Codex uses); the budget of a call covers its stdout
 * and stderr together.
 */
export const BYTES_PER_TOKEN = 4;
export const DEFAULT_OUTPUT_TOKENS = 6000;
/** 250,000 tokens: about 1 MB, what one exec.output read returns at most. */
export const MAX_OUTPUT_TOKENS = 250_000;

export function budgetBytes(tokens: number | undefined): number {
  return Math.min(tokens ?? DEFAULT_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS) * BYTES_PER_TOKEN;
}

/**
 * The budget shared by the two streams: each whole when both fit; otherwise
 * stderr keeps up to a quarter (more when stdout needs less), stdout the rest.
 */
export function shareBudget(budget: number, stdoutLen: number, stderrLen: number): { stdout: number; stderr: number } {
  if (stdoutLen + stderrLen <= budget) return { stdout: stdoutLen, stderr: stderrLen };
  const stderr = Math.min(stderrLen, Math.max(Math.floor(budget / 4), budget - stdoutLen));
  return { stdout: Math.min(stdoutLen, budget - stderr), stderr };
}

/**
 * Which bytes of [from, to) a view of `budget` bytes shows: the head
 * [from, headEnd) and the tail [tailStart, to); the middle between them is
 * left out (none when the range fits: headEnd = tailStart = to).
 */
export function planCut(from: number, to: number, budget: number): { headEnd: number; tailStart: number } {
  if (to - from <= budget) return { headEnd: to, tailStart: to };
  const head = Math.floor(budget / 2);
  return { headEnd: from + head, tailStart: to - (budget - head) };
}
