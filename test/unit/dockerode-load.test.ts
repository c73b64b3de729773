import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Agent } from 'node:http';
import { describe, it } from 'node:test';
import { dockerode } from '../../src/tiers/docker/dockerode.js';

const require = createRequire(import.meta.url);
const loaded = (pkg: string) => Object.keys(require.cache).some((path) => path.includes(`/node_modules/${pkg}/`));

describe('dockerode loading (tiers/docker/dockerode.ts)', () => {
  it('the daemon with its docker tier loads dockerode only through it (no module imports dockerode itself)', async () => {
    await import('../../src/server/tier-registry.js');
    await import('../../src/tiers/docker/docker-tier.js');
    assert.equal(loaded('@grpc/grpc-js'), false, 'a module of the docker tier imports dockerode directly (use dockerode() of dockerode.ts)');
    assert.equal(loaded('ssh2'), false);
  });

  it('gives the client class without loading gRPC, protobufjs or ssh2, and loads ssh2 at the first ssh:// connection', () => {
    const Docker = dockerode();
    assert.equal(typeof Docker, 'function');
    assert.equal((new Docker({ socketPath: '/nonexistent.sock' }).modem as unknown as { socketPath: string }).socketPath, '/nonexistent.sock');
    assert.equal(loaded('@grpc/grpc-js'), false);
    assert.equal(loaded('protobufjs'), false);
    assert.equal(loaded('ssh2'), false);

    // What docker-modem calls for an ssh:// engine: the stand-in loads the real module and answers as it would.
    const fromDockerode = createRequire(require.resolve('dockerode'));
    const ssh = fromDockerode(createRequire(fromDockerode.resolve('docker-modem')).resolve('./ssh.js')) as (opt: object) => unknown;
    const agent = ssh({ host: '127.0.0.1', port: 1 });
    assert.ok(agent instanceof Agent);
    assert.equal(loaded('ssh2'), true);
    assert.equal(dockerode(), Docker);
  });

  it("defers BuildKit's session helper the same way: a function until it is called", () => {
    const fromDockerode = createRequire(require.resolve('dockerode'));
    const withSession = fromDockerode('./session.js') as unknown;
    assert.equal(typeof withSession, 'function');
    assert.equal(loaded('@grpc/grpc-js'), false);
  });
});
