import assert from 'node:assert/strict';

/** strictEqual for long strings: reports the first difference instead of dumping both strings. */
export function assertSameString(actual: string, expected: string, what = 'string'): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what} differs at index ${i} (actual length ${actual.length}, expected ${expected.length}): ` +
      `actual …${JSON.stringify(actual.slice(Math.max(0, i - 40), i + 40))}… expected …${JSON.stringify(expected.slice(Math.max(0, i - 40), i + 40))}…`,
  );
}
