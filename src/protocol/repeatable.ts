/**
 * Methods that change nothing (they read, or wait): sending one twice does
 * what sending it once does. A client may send one of these again when its
 * connection broke under the request, not knowing whether the daemon read
 * it; any other method (a command run twice, a file written twice) is left
 * to the caller. Kept apart from the method registry, which loads every
 * schema, so that a client can know it cheaply; a unit test checks every
 * name against the registry.
 */
export const REPEATABLE_METHODS: ReadonlySet<string> = new Set([
  'system.ping',
  'system.stats',
  'system.info',
  'session.list',
  'session.info',
  'exec.list',
  'exec.info',
  'exec.output',
  'exec.attach',
  'exec.wait',
  'fs.read',
  'fs.list',
  'fs.search',
  'fs.grep',
  'fs.stat',
]);
