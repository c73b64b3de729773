/**
 * Instance ids (src/tiers/shared/instance-id.ts): a daemon's names its pid, so
 * that a later daemon can judge whether its owner lives; a daemon alone in a
 * container (`cgroups: container`, the docker tier's inner trl) gets one that
 * names none, since its pids mean other processes outside the container.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newContainedInstanceId, newInstanceId, pidOfInstance } from '../../src/tiers/shared/instance-id.js';

describe('instance ids', () => {
  it('an ordinary id names the daemon pid', () => {
    assert.equal(pidOfInstance(newInstanceId(4242)), 4242);
  });

  it('a contained id is hex, unique, and names no pid (no daemon outside judges it)', () => {
    const a = newContainedInstanceId();
    const b = newContainedInstanceId();
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.notEqual(a, b);
    assert.equal(pidOfInstance(a), null);
  });
});
