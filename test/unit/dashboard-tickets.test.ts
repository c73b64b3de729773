/**
 * The dashboard's credentials, without a daemon: tickets (one use, a short
 * life, a bounded store), the cookie sessions they open, and which Host
 * headers name the daemon's own origin. Clocks are injected.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ownOrigin } from '../../src/dashboard/own-origin.js';
import { TICKET_TTL_MS, TicketStore } from '../../src/dashboard/tickets.js';
import { cookieValue, VIEWER_SESSION_MS, ViewerSessions } from '../../src/dashboard/viewer-sessions.js';

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('dashboard tickets', () => {
  it('redeems a ticket once, with its grant; a reuse and a stranger are told apart', () => {
    const store = new TicketStore();
    const { ticket } = store.mint('write');
    assert.deepEqual(store.redeem(ticket), { grant: 'write' });
    assert.deepEqual(store.redeem(ticket), { refused: 'used' });
    assert.deepEqual(store.redeem('made-up'), { refused: 'unknown' });
  });

  it('refuses a ticket past its life, which a caller may shorten but not lengthen', () => {
    let now = 1_000_000;
    const store = new TicketStore(() => now);
    const long = store.mint('read', 10 * TICKET_TTL_MS);
    assert.equal(long.expiresAt, now + TICKET_TTL_MS);
    const short = store.mint('read', 1000);
    assert.equal(short.expiresAt, now + 1000);
    now += 1000;
    assert.deepEqual(store.redeem(short.ticket), { refused: 'expired' });
    now += TICKET_TTL_MS;
    // Swept by the next mint, it is still known as expired, not as a stranger's.
    store.mint('read');
    assert.deepEqual(store.redeem(long.ticket), { refused: 'expired' });
  });

  it('keeps a bounded number of unredeemed tickets (the oldest go)', () => {
    const store = new TicketStore();
    const first = store.mint('read');
    for (let i = 0; i < 200; i++) store.mint('read');
    assert.ok('refused' in store.redeem(first.ticket));
  });
});

describe('dashboard cookie sessions', () => {
  it('sets an HttpOnly, SameSite=Strict, host-only cookie; Secure and __Host- under TLS', () => {
    const plain = new ViewerSessions(false).open('read', 'http://127.0.0.1:8080').setCookie;
    assert.match(plain, /^trl_dashboard=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/dashboard; Max-Age=\d+$/);
    const tls = new ViewerSessions(true).open('read', 'https://127.0.0.1:8443').setCookie;
    assert.match(tls, /^__Host-trl_dashboard=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
  });

  it('finds the session its cookie names, until it ends', () => {
    let now = 0;
    const sessions = new ViewerSessions(false, () => now);
    const { session, setCookie } = sessions.open('write', 'http://127.0.0.1:8080');
    const cookie = setCookie.split(';')[0]!;
    assert.equal(sessions.find(req({ cookie: `other=1; ${cookie}` })), session);
    assert.equal(sessions.find(req({ cookie: 'trl_dashboard=forged' })), null);
    assert.equal(sessions.find(req({})), null);
    now += VIEWER_SESSION_MS;
    assert.equal(sessions.find(req({ cookie })), null);
  });

  it('reads one cookie out of a header', () => {
    assert.equal(cookieValue('a=1; b=two; c=3', 'b'), 'two');
    assert.equal(cookieValue('ab=1', 'a'), null);
    assert.equal(cookieValue(undefined, 'a'), null);
  });
});

describe("the daemon's own origin", () => {
  it('is the Host the daemon answers on: its port, and on a loopback bind only loopback names', () => {
    assert.equal(ownOrigin(req({ host: '127.0.0.1:8080' }), false, 8080, true), 'http://127.0.0.1:8080');
    assert.equal(ownOrigin(req({ host: 'localhost:8080' }), false, 8080, true), 'http://localhost:8080');
    assert.equal(ownOrigin(req({ host: '[::1]:8080' }), true, 8080, true), 'https://[::1]:8080');
    assert.equal(ownOrigin(req({ host: 'evil.example:8080' }), false, 8080, true), null);
    assert.equal(ownOrigin(req({ host: '127.0.0.1:9090' }), false, 8080, true), null);
    assert.equal(ownOrigin(req({ host: 'user@127.0.0.1:8080' }), false, 8080, true), null);
    assert.equal(ownOrigin(req({}), false, 8080, true), null);
    // A remote bind (--allow-remote) is reached by names the daemon cannot list: the cookie's origin binding does the work there.
    assert.equal(ownOrigin(req({ host: 'trl.example.com:8080' }), false, 8080, false), 'http://trl.example.com:8080');
  });
});
