/** Names that look secret are treated as secret without being listed (docs/security.md). */
const SECRET_NAME = /TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|PRIVATE/i;
/**
 * Values of names that merely look secret are redacted only from this length
 * on: shorter ones are too likely to occur by chance (and to shred ordinary
 * output). Names listed in secret_keys have no floor: the caller said so.
 */
export const MIN_SECRET_LENGTH = 8;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The values to redact from what a command prints: those of the variables
 * listed in `explicit`, whatever their length (an empty one has nothing to
 * hide), and of variables whose names look secret, at least
 * MIN_SECRET_LENGTH characters long. Each value once; order does not matter
 * (the redactor finds overlapping values in one pass).
 */
export function secretValues(env: Readonly<Record<string, string>>, explicit: ReadonlySet<string>): string[] {
  const values = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (v.length > 0 && (explicit.has(k) || (v.length >= MIN_SECRET_LENGTH && looksSecret(k)))) values.add(v);
  }
  return [...values];
}
