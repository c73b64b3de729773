import Module, { createRequire } from 'node:module';
import type Docker from 'dockerode';

const require = createRequire(import.meta.url);

/**
 * Modules dockerode loads when it loads, for features trl seldom or never uses:
 * BuildKit sessions (gRPC and protobufjs) and ssh:// engines (ssh2). Together
 * they are about 10 MiB of an idle daemon's RSS. Each is loaded on its first
 * call instead: a stand-in in the module cache delegates to the real module.
 * Each file is named relative to its package's main file (lib/docker.js, lib/modem.js).
 */
const DEFERRED = [
  ['dockerode', './session.js'],
  ['docker-modem', './ssh.js'],
] as const;

let loaded: typeof Docker | null = null;

/** dockerode's class, loaded on the first call with its seldom-used dependencies deferred. */
export function dockerode(): typeof Docker {
  if (loaded) return loaded;
  const main = require.resolve('dockerode');
  const fromDockerode = createRequire(main);
  for (const [pkg, file] of DEFERRED) {
    const path = createRequire(fromDockerode.resolve(pkg)).resolve(file);
    if (!require.cache[path]) deferModule(path);
  }
  loaded = fromDockerode(main) as typeof Docker;
  return loaded;
}

/** Put a stand-in for the function-exporting CommonJS module at `path` in the cache; its first call loads the module. */
function deferModule(path: string): void {
  let real: ((...args: unknown[]) => unknown) | null = null;
  const standIn = new Module(path);
  standIn.filename = path;
  standIn.loaded = true;
  standIn.exports = function deferred(this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      if (require.cache[path] === standIn) delete require.cache[path];
      real = require(path) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  require.cache[path] = standIn;
}
