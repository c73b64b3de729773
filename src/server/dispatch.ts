import type { Logger } from 'pino';
import { z } from 'zod';
import type { RequestId, Response } from '../protocol/envelope.js';
import { isTrlError, TrlError } from '../protocol/errors.js';
import { isMethodName, METHODS } from '../protocol/methods.js';
import type { Engine } from '../runtime/engine.js';
import type { Connection } from './connection.js';
import { handlers, Streamed } from './handlers.js';
import { invalidParamsError } from './validation.js';
import { redactText } from '../runtime/redactor.js';

const KNOWN_METHODS = Object.keys(METHODS);

function usableId(id: unknown): RequestId | null {
  if (typeof id === 'string') return id;
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id;
  return null;
}

/** The parameter names a method's schema knows: an object's, or the object's that a pipe starts from. */
function paramKeys(schema: z.ZodType): string[] {
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  if (schema instanceof z.ZodPipe && schema.in instanceof z.ZodObject) return Object.keys(schema.in.shape);
  return [];
}

/**
 * Envelope checks, schema validation and the call into the runtime. Never
 * throws: every outcome is a response envelope.
 */
export class Dispatcher {
  /** Told the method of every request answered, on any transport (the dashboard's change feed, src/dashboard/). */
  readonly answered = new Set<(method: string) => void>();

  constructor(
    private readonly runtime: Engine,
    private readonly log: Logger,
  ) {}

  /** A line that is not JSON. */
  badJson(err: Error): Response {
    return { id: null, ok: false, error: new TrlError('INVALID_PARAMS', `the request is not valid JSON (${err.message}); send one JSON object per line`).toObject() };
  }

  /**
   * Answer one request. `after` (streaming methods) must be called once the
   * response has been written: events only ever follow their response.
   */
  async handle(msg: unknown, conn: Connection): Promise<{ response: Response; after?: (onEnd?: () => void) => void }> {
    const r = await this.answer(msg, conn);
    if (this.answered.size > 0) {
      const method = (msg as { method?: unknown } | null)?.method;
      if (typeof method === 'string') for (const fn of this.answered) fn(method);
    }
    return r instanceof Streamed ? { response: { id: r.data.id, ok: true, data: r.data.data }, after: r.start } : { response: r };
  }

  private async answer(msg: unknown, conn: Connection): Promise<Response | Streamed<{ id: RequestId | null; data: unknown }>> {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      return this.fail(null, new TrlError('INVALID_PARAMS', 'a request must be a JSON object like {"id": 1, "method": "system.ping", "params": {}}'));
    }
    const req: { id?: unknown; method?: unknown; params?: unknown } = msg;
    const id = usableId(req.id);
    const method = req.method;
    if (typeof method !== 'string' || method.length === 0) {
      return this.fail(id, new TrlError('INVALID_PARAMS', '`method` must be a string naming a method, e.g. "system.ping"'));
    }
    if (!isMethodName(method)) {
      return this.fail(id, new TrlError('METHOD_NOT_FOUND', `no method '${method.slice(0, 100)}'${suggest(method)}; methods: ${KNOWN_METHODS.join(', ')}`));
    }
    const rawParams = req.params === undefined || req.params === null ? {} : req.params;
    if (typeof rawParams !== 'object' || Array.isArray(rawParams)) {
      return this.fail(id, new TrlError('INVALID_PARAMS', '`params` must be a JSON object (or omitted)'));
    }
    const spec = METHODS[method];
    const parsed = spec.params.safeParse(rawParams);
    if (!parsed.success) return this.fail(id, invalidParamsError(method, paramKeys(spec.params), parsed.error));
    try {
      const handler = handlers[method] as (p: unknown, rt: Engine, conn: Connection) => unknown;
      const data = await handler(parsed.data, this.runtime, conn);
      if (data instanceof Streamed) {
        const opened: unknown = data.data;
        return new Streamed({ id, data: opened }, data.start);
      }
      return { id, ok: true, data };
    } catch (err) {
      return this.fail(id, err, rawParams);
    }
  }

  /** The error answer, with every secret value the request could have touched replaced (messages echo paths and commands). */
  private fail(id: RequestId | null, err: unknown, params?: unknown): Response {
    const secrets = this.runtime.secretsFor(params);
    const clean = (text: string) => (secrets.length > 0 ? redactText(text, secrets) : text);
    if (isTrlError(err)) {
      const o = err.toObject();
      const out: Response = { id, ok: false, error: { ...o, message: clean(o.message) } };
      if (o.details !== undefined && secrets.length > 0) out.error.details = JSON.parse(clean(JSON.stringify(o.details))) as Record<string, unknown>;
      return out;
    }
    const e = err instanceof Error ? err : null;
    const message = clean(e?.message ?? String(err));
    this.log.error({ err: { name: e?.name, message, stack: clean(e?.stack ?? '') } }, 'internal error');
    return { id, ok: false, error: { code: 'INTERNAL_ERROR', message: `internal error: ${message}; please report it` } };
  }
}

function suggest(method: string): string {
  const close = KNOWN_METHODS.find((m) => m.toLowerCase() === method.toLowerCase() || m.endsWith(`.${method}`) || m.replace('.', '_') === method);
  return close ? ` (did you mean '${close}'?)` : '';
}
