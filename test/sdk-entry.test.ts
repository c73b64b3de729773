/**
 * The SDK's entry points load none of the daemon's dependencies: a program
 * that only talks to a daemon starts as fast as its own code allows. `trl`
 * adds the protocol's schemas (zod) to `trl/client`, which loads no package.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers/daemon.js';
import { packagesLoadedBy, SERVER_PACKAGES } from './helpers/loaded-packages.js';

const entry = (rel: string) => pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', rel)).href;

describe('SDK entry points', () => {
  it('the root entry loads no server dependency', () => {
    const loaded = packagesLoadedBy(entry('index.js'));
    assert.deepEqual(
      loaded.filter((p) => SERVER_PACKAGES.includes(p)),
      [],
      `importing trl loaded ${loaded.join(', ')}`,
    );
    assert.ok(loaded.includes('zod'), `the root entry exports the protocol's schemas, so it loads zod; it loaded: ${loaded.join(', ') || 'nothing'}`);
  });

  it('trl/client loads no package at all (ws only when a WebSocket client connects)', () => {
    assert.deepEqual(packagesLoadedBy(entry('client/index.js')), []);
  });

  it('the tracer sees what a server module loads (so that an empty list above means something)', () => {
    const loaded = packagesLoadedBy(entry('server/logger.js'));
    assert.ok(loaded.includes('pino'), `loaded: ${loaded.join(', ')}`);
  });
});
