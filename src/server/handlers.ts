import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Runtime } from '../runtime/runtime.js';

type Handler<M extends MethodName> = (params: ParamsOf<M> & Record<string, never>, runtime: Runtime) => Promise<ResultOf<M>> | ResultOf<M>;
export type Handlers = { [M in MethodName]: Handler<M> };

/** One handler per method: validated params in, the runtime call, result out. */
export const handlers: Handlers = {
  'system.ping': (_p, rt) => ({ uptime_s: rt.uptime(), version: PROTOCOL_VERSION }),
  'system.stats': (_p, rt) => rt.stats(),
  'system.info': (_p, rt) => rt.info(),
  'session.create': async (p, rt) => rt.sessionInfo(await rt.createSession(p)),
  'session.list': (_p, rt) => ({ sessions: rt.listSessions() }),
  'session.info': (p, rt) => rt.sessionInfo(rt.getSession(p.session_id)),
  'session.update': (p, rt) => rt.updateSession(p),
  'session.destroy': (p, rt) => {
    rt.getSession(p.session_id);
    return rt.destroySession(p.session_id, p.force ?? false);
  },
  'exec.run': (p, rt) => rt.run(p),
};
