/**
 * The OCI runtime of docker sessions as data (src/tiers/docker/oci-runtime.ts,
 * docs/docker-tier.md#gvisor-runsc): what `docker info` says of runtimes,
 * when a configured one is refused and with which fix, and what the
 * container is created with under it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerConfig, FIFO_MOUNT, type ContainerInput } from '../../src/tiers/docker/container.js';
import { cutsNetwork, describeRuntime, effectiveRuntime, engineRuntimes, GVISOR_ARGS, ignoresCgroups, isGvisor, runtimeProblem, unknownRuntimeFix } from '../../src/tiers/docker/oci-runtime.js';

const ENDPOINT = 'unix:///var/run/docker.sock';
const INFO = {
  DefaultRuntime: 'runc',
  Runtimes: {
    runc: { path: 'runc' },
    runsc: { path: '/usr/bin/runsc', runtimeArgs: GVISOR_ARGS },
    'runsc-bare': { path: '/usr/bin/runsc', runtimeArgs: ['--network=none'] },
    'gvisor-shim': { runtimeType: 'io.containerd.runsc.v1' },
    kata: { runtimeType: 'io.containerd.kata.v2' },
  },
};

describe('OCI runtimes of the engine', () => {
  it('reads Runtimes and DefaultRuntime, tolerating a missing or odd shape', () => {
    const r = engineRuntimes(INFO);
    assert.deepEqual([...r.offered.keys()], ['runc', 'runsc', 'runsc-bare', 'gvisor-shim', 'kata']);
    assert.deepEqual(r.offered.get('runsc'), { path: '/usr/bin/runsc', runtimeArgs: GVISOR_ARGS });
    assert.equal(r.defaultRuntime, 'runc');
    const odd = engineRuntimes({ Runtimes: { x: 'y', z: { path: 3, runtimeArgs: ['a', 1] } }, DefaultRuntime: '' });
    assert.deepEqual(odd.offered.get('z'), { runtimeArgs: ['a'] });
    assert.equal(odd.defaultRuntime, 'runc');
    assert.equal(engineRuntimes(null).offered.size, 0);
  });

  it('tells gVisor by its binary or shim, and whether it ignores cgroups', () => {
    const r = engineRuntimes(INFO).offered;
    assert.equal(isGvisor(r.get('runsc')!), true);
    assert.equal(isGvisor(r.get('gvisor-shim')!), true);
    assert.equal(isGvisor(r.get('runc')!), false);
    assert.equal(isGvisor(r.get('kata')!), false);
    assert.equal(ignoresCgroups(r.get('runsc')), true);
    assert.equal(ignoresCgroups(r.get('runsc-bare')), false);
    assert.equal(ignoresCgroups({ path: 'runc', runtimeArgs: ['--ignore-cgroups'] }), false, 'only gVisor has that flag');
    assert.equal(ignoresCgroups({ path: '/usr/bin/runsc', runtimeArgs: ['-ignore-cgroups=true'] }), true, 'Go flags take one dash and =true');
    assert.equal(ignoresCgroups(undefined), false);
    assert.equal(cutsNetwork(r.get('runsc')), true);
    assert.equal(cutsNetwork({ path: '/usr/bin/runsc', runtimeArgs: ['--network=sandbox'] }), false);
    assert.equal(cutsNetwork(r.get('runc')), false);
  });

  it('accepts an offered runtime, the default, or none configured', () => {
    const r = engineRuntimes(INFO);
    assert.equal(runtimeProblem(undefined, r, ENDPOINT), null);
    assert.equal(runtimeProblem('runsc', r, ENDPOINT), null);
    assert.equal(runtimeProblem('kata', r, ENDPOINT), null);
    assert.equal(runtimeProblem('gvisor-shim', r, ENDPOINT), null, "a shim's flags are not in docker info: left to the health check");
    assert.equal(effectiveRuntime(undefined, r), 'runc');
    assert.equal(effectiveRuntime('runsc', r), 'runsc');
    assert.match(describeRuntime('runsc', r), /^runsc \(gVisor: \/usr\/bin\/runsc --network=none --ignore-cgroups --host-fifo=open\)$/);
    assert.equal(describeRuntime('nope', r), 'nope');
  });

  it('refuses a runtime the engine lacks with the dockerd configuration that registers it', () => {
    const msg = runtimeProblem('runsc', engineRuntimes({ Runtimes: { runc: { path: 'runc' } } }), ENDPOINT);
    assert.ok(msg);
    assert.match(msg, /offers no runtime 'runsc' \(--docker-runtime; it offers runc\)/);
    assert.ok(msg.includes(`"runtimes": {"runsc":{"path":"/usr/bin/runsc","runtimeArgs":${JSON.stringify(GVISOR_ARGS)}}}`), msg);
    assert.match(msg, /apt-get install runsc/);
    assert.match(msg, /restart dockerd or send it SIGHUP/);
    assert.match(runtimeProblem('other', engineRuntimes({}), ENDPOINT) ?? '', /it offers none listed.*"other":\{"path":"\/path\/to\/other"\}/);
  });

  it('refuses gVisor registered without --host-fifo=open, naming the flag and why', () => {
    const msg = runtimeProblem('runsc-bare', engineRuntimes(INFO), ENDPOINT);
    assert.match(msg ?? '', /gVisor without --host-fifo=open \(.*FIFO in a bind mount.*\): add "--host-fifo=open" to its "runtimeArgs"/);
    const oneDash = engineRuntimes({ Runtimes: { runsc: { path: '/usr/bin/runsc', runtimeArgs: ['-host-fifo=open'] } } });
    assert.equal(runtimeProblem('runsc', oneDash, ENDPOINT), null, 'Go flags with one dash count');
  });

  it("turns the engine's refusal of an unknown runtime into the fix, and leaves other errors alone", () => {
    assert.match(unknownRuntimeFix('Unknown runtime specified runsc', 'runsc', ENDPOINT) ?? '', /no longer offers the runtime 'runsc'.*"runtimes"/);
    assert.equal(unknownRuntimeFix('Unknown runtime specified runsc', undefined, ENDPOINT), null);
    assert.equal(unknownRuntimeFix('No such image: x', 'runsc', ENDPOINT), null);
  });
});

describe('the container under a configured runtime', () => {
  const base: ContainerInput = {
    image: 'trl-test:busybox',
    network: null,
    workspace: '/work/proj',
    user: '1000:1000',
    instanceId: '0123456789abcdef00001234',
    host: 'machine-a',
    sessionTag: 'a1b2c3d4e5f6',
    limits: {},
    binds: { fifoDir: '/tmp/trl-fifo-x', guard: { mountPoints: [], readOnly: [], ghosts: [], emptyDir: '/tmp/trl-fifo-y/none' } },
    seccomp: '{}',
  };
  const fifoMount = (i: ContainerInput) => containerConfig(i).HostConfig?.Mounts?.find((m) => m.Target === FIFO_MOUNT);

  it("sets HostConfig.Runtime only when configured (else the engine's default)", () => {
    assert.equal('Runtime' in (containerConfig(base).HostConfig ?? {}), false);
    assert.equal(containerConfig({ ...base, runtime: 'runsc', gvisor: true }).HostConfig?.Runtime, 'runsc');
    assert.equal(containerConfig({ ...base, runtime: 'kata' }).HostConfig?.Runtime, 'kata');
  });

  it('mounts the FIFO directory read-only, except under gVisor (which opens a FIFO for writing only on a writable mount)', () => {
    assert.equal(fifoMount(base)?.ReadOnly, true);
    assert.equal(fifoMount({ ...base, runtime: 'kata' })?.ReadOnly, true);
    assert.equal(fifoMount({ ...base, runtime: 'runsc', gvisor: true })?.ReadOnly, false);
    // gVisor as the engine's default runtime: no Runtime field, still a writable FIFO mount
    assert.equal(fifoMount({ ...base, gvisor: true })?.ReadOnly, false);
  });
});
