import { posix } from 'node:path';
import { z } from 'zod';
import { ENV_NAME_RE, TIER_NAMES } from './names.js';

export { ENV_NAME_RE, TIER_NAMES, type TierName } from './names.js';

export const EnvName = z.string().regex(ENV_NAME_RE, { message: 'an env name must match ^[A-Za-z_][A-Za-z0-9_]*$' });

export const EnvValue = z.string().refine((v) => !v.includes('\0'), { message: 'an env value must not contain a NUL byte' });

export const EnvMap = z.record(EnvName, EnvValue).describe('environment variables: names match ^[A-Za-z_][A-Za-z0-9_]*$, values are strings without NUL');

export const AbsolutePath = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\0'), { message: 'a path must not contain a NUL byte' })
  .refine((p) => p.startsWith('/'), { message: 'must be an absolute path (starting with /)' })
  .refine((p) => posix.normalize(p) === p || posix.normalize(p) === p.replace(/\/+$/, ''), {
    message: 'must be a normalized path (no "..", "." or repeated slashes)',
  });

/** A path that may be relative to the session's cwd. */
export const AnyPath = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\0'), { message: 'a path must not contain a NUL byte' });

/**
 * The longest duration a timer can wait (setTimeout's 32-bit milliseconds,
 * about 24.8 days): a longer one would fire at once. Durations above it are
 * refused with this maximum; 0 means none where a parameter allows it.
 */
export const MAX_DURATION_S = 2_147_483;
const tooLong = { message: `at most ${MAX_DURATION_S} seconds (about 24.8 days, the longest timer); use 0 for none where allowed` };

/** A duration in seconds, 0 allowed. */
export const Seconds = z.number().min(0).max(MAX_DURATION_S, tooLong);
/** A duration in whole seconds, 0 allowed. */
export const WholeSeconds = z.number().int().min(0).max(MAX_DURATION_S, tooLong);
/** A duration in seconds, more than 0. */
export const PositiveSeconds = z.number().positive().max(MAX_DURATION_S, tooLong);

/** Text a program or shell receives: no NUL byte (the kernel cannot pass one in an argument). */
export const NoNul = z.string().refine((v) => !v.includes('\0'), { message: 'must not contain a NUL byte' });

export const Encoding = z.enum(['utf8', 'base64']);
export type Encoding = z.infer<typeof Encoding>;

export const SessionId = z.string().min(1).max(128).describe('a session id returned by session.create');
export const CommandId = z.string().min(1).max(128).describe('a command id returned by exec.*');

export const Runtime = z.enum(TIER_NAMES);
export type Runtime = z.infer<typeof Runtime>;

const positiveInt = z.number().int().positive();

export const Limits = z
  .strictObject({
    memory_bytes: positiveInt.optional().describe('memory ceiling for the whole session (cgroup memory.max)'),
    cpu_percent: z.number().positive().max(100_000).optional().describe('CPU share, 100 = one core (cgroup cpu.max)'),
    pids: positiveInt.optional().describe('maximum number of processes in the session (cgroup pids.max)'),
    cpu_s: positiveInt.optional().describe('CPU seconds per process (RLIMIT_CPU)'),
    nofile: positiveInt.optional().describe('open files per process (RLIMIT_NOFILE)'),
    max_output_bytes: positiveInt.optional().describe('per-stream output cap of a command; the middle is dropped'),
  })
  .describe('resource limits; each may only lower the daemon maximum');
export type Limits = z.infer<typeof Limits>;

export const Timestamp = z.string().describe('ISO 8601 time');
