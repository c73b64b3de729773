/** Which engine the docker tier talks to, and whether it shares this machine's filesystem (docs/docker-tier.md#remote-engines). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointOf, engineClient, isLocalEndpoint, sharesFilesystem } from '../../src/tiers/docker/engine-address.js';

describe('docker engine address', () => {
  it('takes a Unix socket and a loopback tcp:// engine for this machine, any other tcp:// for another', () => {
    assert.equal(isLocalEndpoint('unix:///var/run/docker.sock'), true);
    assert.equal(isLocalEndpoint('tcp://127.0.0.1:2375'), true);
    assert.equal(isLocalEndpoint('tcp://localhost:2375'), true);
    assert.equal(isLocalEndpoint('tcp://[::1]:2375'), true);
    assert.equal(isLocalEndpoint('tcp://10.0.0.5:2376'), false);
    assert.equal(isLocalEndpoint('tcp://localhost.example.com:2375'), false);
  });

  it('--docker-shared-fs: auto follows the address, yes and no override it', () => {
    assert.equal(sharesFilesystem('auto', 'unix:///var/run/docker.sock'), true);
    assert.equal(sharesFilesystem('auto', 'tcp://10.0.0.5:2375'), false);
    assert.equal(sharesFilesystem('no', 'tcp://127.0.0.1:2375'), false);
    assert.equal(sharesFilesystem('yes', 'tcp://10.0.0.5:2375'), true);
  });

  it('--docker-host makes the client and the endpoint; unset, DOCKER_HOST does', () => {
    assert.equal(endpointOf('tcp://10.0.0.5:2375'), 'tcp://10.0.0.5:2375');
    const tcp = engineClient('tcp://10.0.0.5:2375').modem as unknown as { host: string; port: string; protocol: string };
    assert.deepEqual([tcp.host, String(tcp.port), tcp.protocol], ['10.0.0.5', '2375', 'http']);
    const unix = engineClient('unix:///run/other.sock').modem as unknown as { socketPath: string };
    assert.equal(unix.socketPath, '/run/other.sock');
  });
});
