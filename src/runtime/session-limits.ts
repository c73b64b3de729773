import type { Config } from '../config/config-schema.js';
import type { SessionCreateParams } from '../protocol/session.js';
import { invalidParam } from './checks.js';
import { fdLimit } from './daemon-resources.js';
import type { Session } from './session.js';

type Requested = NonNullable<SessionCreateParams['limits']>;

/** A session's limits: each may only lower the daemon's maximum (the refusal names it). */
export function sessionLimits(requested: Requested, c: Config): Session['limits'] {
  const maxima: Array<[keyof Requested, number | undefined, string]> = [
    ['memory_bytes', c.max_memory_bytes, 'max_memory_bytes'],
    ['pids', c.max_pids, 'max_pids'],
    ['cpu_percent', c.max_cpu_percent, 'max_cpu_percent'],
    ['cpu_s', c.max_cpu_s, 'max_cpu_s'],
    ['nofile', c.max_nofile, 'max_nofile'],
    ['max_output_bytes', c.max_output_bytes, 'max_output_bytes'],
  ];
  for (const [key, max, setting] of maxima) {
    const v = requested[key];
    if (v !== undefined && max !== undefined && v > max) {
      throw invalidParam(`limits.${key}`, `${v} is above the daemon maximum ${max} (${setting}); limits may only lower the maxima — pass at most ${max}`);
    }
  }
  const hard = fdLimit('hard');
  if (requested.nofile !== undefined && hard !== null && requested.nofile > hard) {
    throw invalidParam('limits.nofile', `${requested.nofile} is above this system's hard open-files limit ${hard}; pass at most ${hard}`);
  }
  return { ...requested, max_output_bytes: requested.max_output_bytes ?? c.max_output_bytes };
}
