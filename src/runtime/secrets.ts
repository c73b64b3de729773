/** Names that look secret are treated as secret without being listed (DESIGN §4). */
const SECRET_NAME = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|PRIVATE/i;
/** Shorter values are too likely to occur by chance (and to shred ordinary output). */
export const MIN_SECRET_LENGTH = 8;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The values to redact from what a command prints: those of the variables
 * listed in `explicit`, and of variables whose names look secret, at least
 * MIN_SECRET_LENGTH characters long. Longest first, so that a secret that
 * contains another is replaced whole.
 */
export function secretValues(env: Readonly<Record<string, string>>, explicit: ReadonlySet<string>): string[] {
  const values = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (v.length >= MIN_SECRET_LENGTH && (explicit.has(k) || looksSecret(k))) values.add(v);
  }
  return [...values].sort((a, b) => b.length - a.length);
}
