import { z } from 'zod';
import type { ErrorObject } from './errors.js';

export const RequestId = z.union([z.string(), z.number().int()]);
export type RequestId = z.infer<typeof RequestId>;

export interface Request {
  id: RequestId;
  method: string;
  params: Record<string, unknown>;
}

export interface SuccessResponse<T = unknown> {
  id: RequestId | null;
  ok: true;
  data: T;
}

export interface ErrorResponse {
  id: RequestId | null;
  ok: false;
  error: ErrorObject;
}

export type Response<T = unknown> = SuccessResponse<T> | ErrorResponse;

export interface StreamEvent {
  stream_id: string;
  event: string;
  data?: unknown;
  offset?: number;
  [k: string]: unknown;
}
