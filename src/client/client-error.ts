import type { ErrorCode, ErrorObject } from '../protocol/errors.js';

/** A protocol error answered by the daemon, or a transport failure (code INTERNAL_ERROR). */
export class TrlClientError extends Error {
  readonly code: ErrorCode | 'CONNECTION_CLOSED';
  readonly details: Record<string, unknown> | undefined;

  constructor(error: ErrorObject | { code: 'CONNECTION_CLOSED'; message: string; details?: Record<string, unknown> }) {
    super(error.message);
    this.name = 'TrlClientError';
    this.code = error.code;
    this.details = error.details;
  }
}
