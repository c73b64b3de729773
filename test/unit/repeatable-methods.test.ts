/**
 * The methods a client may send again after a broken connection
 * (REPEATABLE_METHODS): each is a method of the protocol, and none of them
 * starts, changes or ends anything (the names of those that do are listed
 * here by what they do, so that a new method is placed on purpose).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METHODS } from '../../src/protocol/methods.js';
import { REPEATABLE_METHODS } from '../../src/protocol/repeatable.js';

/** Every method that starts, changes or ends something: sent twice, it may do it twice. */
const CHANGES = [
  'session.create',
  'session.update',
  'session.destroy',
  'exec.run',
  'exec.stream',
  'exec.start',
  'exec.pipe',
  'exec.input',
  'exec.signal',
  'exec.cancel',
  'exec.resize',
  'fs.write',
  'fs.edit',
  'fs.mkdir',
  'fs.remove',
  'fs.move',
  'fs.watch',
  'fs.unwatch',
];

describe('REPEATABLE_METHODS', () => {
  it('names methods of the protocol only', () => {
    for (const m of REPEATABLE_METHODS) assert.ok(Object.hasOwn(METHODS, m), `${m} is not a method`);
  });

  it('holds none of the methods that change something, and every method is one or the other', () => {
    for (const m of CHANGES) assert.equal(REPEATABLE_METHODS.has(m), false, m);
    const unplaced = Object.keys(METHODS).filter((m) => !REPEATABLE_METHODS.has(m) && !CHANGES.includes(m));
    assert.deepEqual(unplaced, [], 'a new method: add it to REPEATABLE_METHODS (src/protocol/repeatable.ts) if it changes nothing, else to CHANGES here');
  });
});
