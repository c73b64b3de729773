import { WarmPool as Pool } from '../shared/warm-pool.js';
import type { ContainerShape } from './container.js';
import type { StartedContainer } from './docker-session.js';

/** Shapes (image, network, workspace, user) kept warm at once; the least recently used goes first. */
const MAX_SHAPES = 4;
/** After a failed start, leave the shape cold this long instead of retrying in a loop. */
const FAILURE_BACKOFF_MS = 30_000;

function shapeKey(s: ContainerShape): string {
  return JSON.stringify([s.image, s.network, s.workspace, s.user]);
}

/**
 * Started containers waiting for a session, so `session.create` does not wait
 * for a container start (~0.2 s or more). Kept per shape, filled lazily: at
 * start-up for the default shape and after the first session of any other.
 * Warm containers carry the instance label like any other, so crash recovery
 * finds them; sessions with ulimits never take one (those are set at create).
 */
export class WarmPool extends Pool<ContainerShape, StartedContainer> {
  constructor(size: number, start: (shape: ContainerShape) => Promise<StartedContainer>, discard: (c: StartedContainer) => Promise<void>) {
    super({ size, key: shapeKey, start, discard, maxShapes: MAX_SHAPES, failureBackoffMs: FAILURE_BACKOFF_MS });
  }
}
