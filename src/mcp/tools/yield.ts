import { DEFAULT_YIELD_S, MAX_YIELD_S } from '../tool-schemas.js';

/** The yield of a call in seconds: its own, or the default; never more than the maximum (clients give up at about 60 s). */
export function yieldSeconds(asked: number | undefined): number {
  return Math.min(asked ?? DEFAULT_YIELD_S, MAX_YIELD_S);
}
