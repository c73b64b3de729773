import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The executable `name` on PATH, or in the usual system directories (sbin included: nsenter lives there); null if none. */
export function which(name: string): string | null {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!d) continue;
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      /* not here */
    }
  }
  return null;
}
