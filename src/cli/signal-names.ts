import { InvalidArgumentError } from 'commander';
import { constants } from 'node:os';

/** `INT`, `sigint`, `SIGINT` or `2` → `SIGINT`; anything this system does not know is a usage error. */
export function parseSignal(value: string): NodeJS.Signals {
  const names = Object.keys(constants.signals) as NodeJS.Signals[];
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    const name = names.find((s) => constants.signals[s] === n);
    if (name) return name;
  } else {
    const upper = trimmed.toUpperCase();
    const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
    if (names.includes(name)) return name;
  }
  throw new InvalidArgumentError(`'${value}' is not a signal name or number (e.g. INT, SIGTERM, 9)`);
}
