/**
 * The SDK's error classes come from the protocol's list of error codes: one
 * subclass per code, and what the clients build from a daemon's answer is an
 * instance of its code's subclass (so `instanceof` and `code` agree).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/protocol/errors.js';
import { clientError, isTrlClientError, TrlClientError, TrlErrors } from '../../src/client/client-error.js';

describe('client error classes', () => {
  it('every protocol error code, and CONNECTION_CLOSED, has its subclass', () => {
    assert.deepEqual(Object.keys(TrlErrors).sort(), [...ERROR_CODES, 'CONNECTION_CLOSED'].sort());
    for (const code of ERROR_CODES) {
      const err = new TrlErrors[code]('what to do', { k: 1 });
      assert.ok(err instanceof TrlClientError && err instanceof Error, code);
      assert.equal(err.code, code);
      assert.equal(err.message, 'what to do');
      assert.deepEqual(err.details, { k: 1 });
    }
  });

  it('a subclass is named after its code and is not any other code', () => {
    const err = new TrlErrors.SESSION_NOT_FOUND('no session s1; list them with session.list');
    assert.equal(TrlErrors.SESSION_NOT_FOUND.name, 'SessionNotFoundError');
    assert.equal(TrlErrors.PATH_OUTSIDE_WORKSPACE.name, 'PathOutsideWorkspaceError');
    assert.match(String(err.stack), /no session s1/);
    const other: unknown = err;
    assert.ok(!(other instanceof TrlErrors.COMMAND_NOT_FOUND));
  });

  it("clientError turns a daemon's error object into its code's subclass", () => {
    const err = clientError({ code: 'FILE_CHANGED', message: 'read it again', details: { hash: 'x' } });
    assert.ok(err instanceof TrlErrors.FILE_CHANGED);
    assert.equal(err.code, 'FILE_CHANGED');
    assert.deepEqual(err.details, { hash: 'x' });
    assert.ok(isTrlClientError(err, 'FILE_CHANGED'));
    assert.ok(!isTrlClientError(err, 'PATH_EXISTS'));
    assert.ok(!isTrlClientError(new Error('x')));
  });

  it('a code this SDK does not know (a newer daemon) is still a TrlClientError carrying it', () => {
    const err = clientError({ code: 'SOMETHING_NEW' as never, message: 'm' });
    assert.ok(err instanceof TrlClientError);
    assert.equal(err.code, 'SOMETHING_NEW');
  });

  it('the old constructor still works and gives the base class', () => {
    const err = new TrlClientError({ code: 'CONNECTION_CLOSED', message: 'gone' });
    assert.equal(err.code, 'CONNECTION_CLOSED');
    assert.equal(err.name, 'TrlClientError');
  });
});
