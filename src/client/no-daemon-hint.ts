/**
 * What to do when no daemon answers on a Unix socket (a local one): start
 * one. Run as root, the daemon refuses to start without --allow-root, so the
 * user is told both at once rather than one after the other.
 */
export function noDaemonHint(path: string): string {
  const hint = `no trl daemon listens on ${path}`;
  if (process.getuid?.() !== 0) return `${hint}; start one with \`trl serve\` (or pass --socket)`;
  return `${hint}; start one with \`trl serve --allow-root\` (or pass --socket): as root, trl serve refuses to start without --allow-root, since every host-tier command would run as root`;
}
