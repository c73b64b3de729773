import type { z } from 'zod';
import { TrlError } from '../protocol/errors.js';

/** Turn zod issues into one INVALID_PARAMS error whose message names the first bad field. */
export function invalidParamsError(method: string, knownKeys: string[], error: z.ZodError): TrlError {
  const issues = error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys;
      const where = path ? `${path}.` : '';
      return {
        path: keys.map((k) => where + k).join(', '),
        message: `unknown parameter${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${where}${k}'`).join(', ')} for ${method}${path ? '' : `; known: ${knownKeys.join(', ')}`}`,
      };
    }
    return { path: path || '(params)', message: i.message };
  });
  // A failed parse has at least one issue.
  const first = issues[0] ?? { path: '(params)', message: `invalid parameters for ${method}` };
  const message = first.message.startsWith('unknown parameter') ? first.message : `${first.path}: ${first.message}`;
  return new TrlError('INVALID_PARAMS', message, { issues });
}
