/**
 * The protocol's names that need no schema library: the CLI reads them
 * without loading zod (a client call stays cheap to start); common.ts builds
 * the schemas on them.
 */

/** Names a child process can receive: POSIX-portable environment names. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The isolation tiers, by the names the wire uses (`runtime`): the one list of them (a tier's code is a folder of src/tiers/, registered in src/server/tier-registry.ts). */
export const TIER_NAMES = ['host', 'sandbox', 'docker'] as const;
export type TierName = (typeof TIER_NAMES)[number];
