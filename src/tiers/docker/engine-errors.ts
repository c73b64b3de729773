/**
 * Engine failures as messages that name the fix. An engine's own message
 * never holds an environment value (those travel only in exec bodies, which
 * no error echoes), so it is quoted as is.
 */
export interface EngineContext {
  /** Where the engine is reached: DOCKER_HOST or the default socket. */
  endpoint: string;
  image?: string | undefined;
  network?: string | null | undefined;
  workspace?: string | undefined;
}

/** What an engine failure may say: docker-modem's HTTP errors, Node's socket errors. */
export interface EngineError {
  code?: string | undefined;
  statusCode?: number | undefined;
  /** The engine's own words (its JSON's message), else the error's message or text. */
  message: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE']);

/** The fields of a failed engine call that the messages use, read without trusting the value's shape. */
export function engineErrorFields(err: unknown): EngineError {
  if (typeof err !== 'object' || err === null) return { message: String(err).trim() };
  const json = 'json' in err && typeof err.json === 'object' && err.json !== null && 'message' in err.json ? err.json.message : undefined;
  const message = 'message' in err ? err.message : undefined;
  return {
    code: 'code' in err && typeof err.code === 'string' ? err.code : undefined,
    statusCode: 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined,
    message: (typeof json === 'string' ? json : typeof message === 'string' ? message : '(no message)').trim(),
  };
}

/** The engine's own words for a failed call, without docker-modem's "(HTTP code …)" wrapping. */
export function engineMessage(err: unknown): string {
  return engineErrorFields(err).message;
}

export function describeEngineError(err: unknown, ctx: EngineContext): string {
  const e = engineErrorFields(err);
  if (e.code === 'EACCES') {
    return `permission denied on the docker engine at ${ctx.endpoint}: add the daemon's user to the docker group, or set DOCKER_HOST`;
  }
  if (e.code && UNREACHABLE.has(e.code)) {
    return `docker engine unreachable at ${ctx.endpoint} (${e.code}): start dockerd or set DOCKER_HOST`;
  }
  const msg = e.message;
  if (ctx.image && e.statusCode === 404 && /no such image|not found|pull access denied/i.test(msg)) {
    return `image ${ctx.image} is not present in the docker engine: docker pull ${ctx.image} or set --docker-image`;
  }
  if (ctx.network && /network .* not found/i.test(msg)) {
    return `docker network ${ctx.network} does not exist: docker network create ${ctx.network} or set --docker-network`;
  }
  if (ctx.workspace && /bind source path does not exist|invalid mount config/i.test(msg)) {
    return `the workspace ${ctx.workspace} is not a directory on the docker engine's host (${msg}): pass a workspace that exists there, or, for an engine on another machine, set --docker-shared-fs no (workspaces then live in the containers)`;
  }
  return `docker engine at ${ctx.endpoint}: ${msg}`;
}

/** Where dockerode will connect, for messages: DOCKER_HOST (less any user:password@) or the default socket. */
export function engineEndpoint(): string {
  const host = process.env.DOCKER_HOST;
  return host ? host.replace(/\/\/[^@/]*@/, '//') : 'unix:///var/run/docker.sock';
}

/** The exec or container is gone (removed with its session) or stopped. */
export function isGone(err: unknown): boolean {
  const s = engineErrorFields(err).statusCode;
  return s === 404 || s === 409;
}
