/**
 * A docker session's container as data (docs/security.md, isolation tiers): what it is created with,
 * which `docker inspect` shows to anyone with engine access — so never an
 * environment value — and how session limits map to the engine's fields.
 * Also the exec argv (wrapper), the kill-exec argv and the control-FIFO
 * trailer, all pure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerConfig,
  containerName,
  FIFO_MOUNT,
  HOLDER,
  HOLDER_PIDS,
  LABEL_HOST,
  LABEL_INSTANCE,
  LABEL_SESSION,
  resourceLimits,
  ulimits,
  type ContainerInput,
} from '../../src/tiers/docker/container.js';
import { CTL_VAR, execArgv, withoutValues, unsettable, WRAPPER_SCRIPT } from '../../src/tiers/docker/exec.js';
import { parseControl } from '../../src/tiers/docker/fifo-dir.js';
import { killArgv, KILL_SCRIPT } from '../../src/tiers/docker/killer.js';
import { numericOwner, workspaceTar } from '../../src/tiers/docker/workspace-in-container.js';

const INSTANCE = '0123456789abcdef00001234';
const base: ContainerInput = {
  image: 'trl-test:busybox',
  network: null,
  workspace: '/work/proj',
  user: '1000:1000',
  instanceId: INSTANCE,
  host: 'machine-a',
  sessionTag: 'a1b2c3d4e5f6',
  limits: {},
  binds: { fifoDir: '/tmp/trl-fifo-x', guard: { mountPoints: [], readOnly: [], ghosts: [], emptyDir: '/tmp/trl-fifo-y/none' } },
  seccomp: '{"defaultAction":"SCMP_ACT_ERRNO"}',
};

describe('docker container config', () => {
  it('carries no environment at all: variables travel per exec', () => {
    const c = containerConfig({ ...base, limits: { memory_bytes: 1 << 28, cpu_s: 10 } });
    assert.equal(c.Env, undefined);
    assert.doesNotMatch(JSON.stringify(c), /"Env"/);
  });

  it('drops every capability, forbids new privileges and runs docker-init', () => {
    const h = containerConfig(base).HostConfig!;
    assert.deepEqual(h.CapDrop, ['ALL']);
    assert.deepEqual(h.SecurityOpt, ['no-new-privileges', `seccomp=${base.seccomp}`]);
    assert.equal(h.Init, true);
    assert.equal(h.Privileged, undefined);
    assert.equal(h.CapAdd, undefined);
  });

  it('has no network unless asked, then the configured one', () => {
    assert.equal(containerConfig(base).HostConfig!.NetworkMode, 'none');
    assert.equal(containerConfig({ ...base, network: 'bridge' }).HostConfig!.NetworkMode, 'bridge');
    assert.equal(containerConfig({ ...base, network: 'host' }).HostConfig!.NetworkMode, 'host');
  });

  it('runs as the configured user, in the workspace, with only a holder process', () => {
    const c = containerConfig(base);
    assert.equal(c.User, '1000:1000');
    assert.equal(c.WorkingDir, '/work/proj');
    assert.deepEqual([...(c.Entrypoint as string[]), ...(c.Cmd as string[])], HOLDER);
    assert.equal(c.Tty, false);
    assert.equal(c.OpenStdin, false);
  });

  it('mounts the workspace read-write at the same path and the FIFO directory read-only', () => {
    const mounts = containerConfig(base).HostConfig!.Mounts!;
    assert.deepEqual(mounts, [
      { Type: 'bind', Source: '/work/proj', Target: '/work/proj', ReadOnly: false },
      { Type: 'bind', Source: '/tmp/trl-fifo-x', Target: FIFO_MOUNT, ReadOnly: true },
    ]);
    const guarded = containerConfig({
      ...base,
      binds: { fifoDir: '/tmp/trl-fifo-x', guard: { mountPoints: ['/work/proj/.git'], readOnly: ['/work/proj/.git/hooks', '/work/proj/.bashrc'], ghosts: ['/work/proj/.envrc'], emptyDir: '/e' } },
    }).HostConfig!.Mounts!;
    assert.deepEqual(guarded.slice(1, 5), [
      { Type: 'bind', Source: '/work/proj/.git', Target: '/work/proj/.git', ReadOnly: false },
      { Type: 'bind', Source: '/work/proj/.git/hooks', Target: '/work/proj/.git/hooks', ReadOnly: true },
      { Type: 'bind', Source: '/work/proj/.bashrc', Target: '/work/proj/.bashrc', ReadOnly: true },
      { Type: 'bind', Source: '/e', Target: '/work/proj/.envrc', ReadOnly: true },
    ]);
    // Mounts, not Binds: a path with ':' stays one path.
    const odd = containerConfig({ ...base, workspace: '/w/a:b' }).HostConfig!;
    assert.equal(odd.Binds, undefined);
    assert.equal(odd.Mounts![0]!.Source, '/w/a:b');
  });

  it("mounts nothing at all on an engine that shares no filesystem (the workspace is the container's own)", () => {
    const h = containerConfig({ ...base, binds: null }).HostConfig!;
    assert.deepEqual(h.Mounts, []);
    assert.equal(h.Binds, undefined);
    assert.equal(containerConfig({ ...base, binds: null }).WorkingDir, '/work/proj');
  });

  it('puts the in-container workspace as one ustar directory entry owned by the session user', () => {
    const tar = workspaceTar('/work/proj', { uid: 1000, gid: 1001 });
    assert.equal(tar.length, 3 * 512);
    const field = (at: number, len: number) =>
      tar
        .subarray(at, at + len)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    assert.equal(field(0, 100), 'work/proj/');
    assert.equal(field(156, 1), '5');
    assert.deepEqual([parseInt(field(100, 8), 8), parseInt(field(108, 8), 8), parseInt(field(116, 8), 8)], [0o755, 1000, 1001]);
    assert.equal(field(257, 6), 'ustar');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i]!;
    assert.equal(parseInt(field(148, 8), 8), sum, 'the header checksum');
    const long = `/w/${'a'.repeat(90)}/${'b'.repeat(60)}`;
    const t2 = workspaceTar(long, { uid: 1, gid: 1 });
    assert.equal(`${t2.subarray(345, 500).toString('latin1').replace(/\0.*$/s, '')}/${t2.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '')}`, `${long.slice(1)}/`);
    assert.throws(() => workspaceTar('/', { uid: 1, gid: 1 }), /cannot be \//);
    assert.deepEqual(numericOwner('1000'), { uid: 1000, gid: 1000 });
    assert.deepEqual(numericOwner('1000:50'), { uid: 1000, gid: 50 });
    assert.equal(numericOwner('nobody'), null);
  });

  it('labels the container with the instance, the session and the machine, and names it after them', () => {
    const c = containerConfig(base);
    assert.deepEqual(c.Labels, { [LABEL_INSTANCE]: INSTANCE, [LABEL_SESSION]: 'a1b2c3d4e5f6', [LABEL_HOST]: 'machine-a' });
    assert.equal(c.name, 'trl-01234567-a1b2c3d4e5f6');
    assert.equal(containerName(INSTANCE, 'pool-1'), 'trl-01234567-pool-1');
    assert.match(c.name!, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });

  it('sets no limit fields when the session has none', () => {
    const h = containerConfig(base).HostConfig!;
    for (const k of ['Memory', 'MemorySwap', 'NanoCpus', 'PidsLimit', 'Ulimits'] as const) assert.equal(h[k], undefined, k);
  });

  it('maps memory (swap capped too), CPU percent, pids (plus the holders) and rlimits', () => {
    const h = containerConfig({ ...base, limits: { memory_bytes: 256 << 20, cpu_percent: 150, pids: 64, cpu_s: 30, nofile: 512 } }).HostConfig!;
    assert.equal(h.Memory, 256 << 20);
    assert.equal(h.MemorySwap, 256 << 20);
    assert.equal(h.NanoCpus, 1.5e9);
    assert.equal(h.PidsLimit, 64 + HOLDER_PIDS);
    assert.deepEqual(h.Ulimits, [
      { Name: 'cpu', Soft: 30, Hard: 30 },
      { Name: 'nofile', Soft: 512, Hard: 512 },
    ]);
  });

  it('keeps a tiny CPU share above the engine minimum', () => {
    assert.equal(resourceLimits({ cpu_percent: 0.001 }).NanoCpus, 1e7);
    assert.equal(resourceLimits({ cpu_percent: 100 }).NanoCpus, 1e9);
  });

  it('tells which limits need a fresh container (ulimits) and which an update can apply', () => {
    assert.deepEqual(ulimits({ memory_bytes: 1, pids: 2, cpu_percent: 3 }), []);
    assert.equal(ulimits({ nofile: 10 }).length, 1);
    assert.deepEqual(Object.keys(resourceLimits({ memory_bytes: 1, pids: 2, cpu_percent: 3 })).sort(), ['Memory', 'MemorySwap', 'NanoCpus', 'PidsLimit']);
  });
});

describe('docker exec argv', () => {
  it('runs a shell program under the wrapper; the control FIFO is not in the argv (any host user can read that)', () => {
    const argv = execArgv({ kind: 'shell', shell: '/bin/bash', script: 'echo hi' }, { state: true, unset: ['HOSTNAME', 'LANG'] });
    assert.deepEqual(argv, ['/bin/sh', '-c', WRAPPER_SCRIPT, 'trl-exec', 'state', 'HOSTNAME LANG', '/bin/bash', '-c', 'echo hi']);
    assert.match(WRAPPER_SCRIPT, new RegExp(`exec 4>"\\$${CTL_VAR}"`), 'the wrapper opens the FIFO named in its environment');
    assert.match(WRAPPER_SCRIPT.split('\n')[2]!, new RegExp(`^unset ${CTL_VAR}$`), 'and unsets that variable before anything runs');
  });

  it('passes an argv program through untouched', () => {
    const argv = execArgv({ kind: 'argv', argv: ['printf', '%s', 'a b'] }, { state: false, unset: [] });
    assert.deepEqual(argv.slice(3), ['trl-exec', '-', '', 'printf', '%s', 'a b']);
  });

  it('blanks environment values out of an engine message, also as the engine quotes them', () => {
    const env = ['TOKEN=s3cr"et\\x', 'SHORT=abc'];
    const msg = `invalid env "TOKEN=s3cr\\"et\\\\x" and TOKEN=s3cr"et\\x; SHORT=abc`;
    const out = withoutValues(msg, env);
    assert.ok(!out.includes('s3cr'), out);
    assert.ok(out.includes('SHORT=abc'), 'values under 4 characters stay (they garble messages and hold no secret)');
  });

  it('only unsets names that are plain identifiers', () => {
    assert.ok(unsettable('HOSTNAME'));
    assert.ok(unsettable('_x1'));
    for (const bad of ['1A', 'A-B', 'A B', '$(x)', '']) assert.equal(unsettable(bad), false, bad);
  });

  it('writes the marker before anything and the exit status last', () => {
    const lines = WRAPPER_SCRIPT.split('\n');
    assert.ok(lines.findIndex((l) => l.includes('printf . >&4')) < lines.findIndex((l) => l.includes('"$@"')));
    assert.match(lines.at(-2)!, /printf '\\001%s\\004' "\$s" >&4/);
  });
});

describe('control FIFO trailer', () => {
  it('splits the state from the exit status', () => {
    const r = parseControl(Buffer.from("/w\0export A='1'\n\x013\x04"));
    assert.equal(r.exitCode, 3);
    assert.equal(r.state.toString(), "/w\0export A='1'\n");
  });

  it('needs the whole trailer', () => {
    assert.equal(parseControl(Buffer.from('\x0113')).exitCode, null);
    assert.equal(parseControl(Buffer.from('\x011\x04')).exitCode, 1);
  });

  it('gives no status when the wrapper wrote none (killed)', () => {
    const r = parseControl(Buffer.from("/w\0export A='\x01'\n"));
    assert.equal(r.exitCode, null);
    assert.equal(r.state.toString(), "/w\0export A='\x01'\n");
  });

  it('reads a bare trailer as an empty state', () => {
    const r = parseControl(Buffer.from('\x01137\x04'));
    assert.equal(r.exitCode, 137);
    assert.equal(r.state.length, 0);
  });
});

describe('docker kill argv', () => {
  it('matches one command by its exact tag, or the whole session', () => {
    const one = killArgv(`${INSTANCE}:s1:`, '7', { kind: 'signal', signal: 'SIGINT' });
    assert.deepEqual(one, ['/bin/sh', '-c', KILL_SCRIPT, 'trl-kill', `__TRL_TAG=${INSTANCE}:s1:7`, 'exact', 'signal', 'INT', '0']);
    const all = killArgv(`${INSTANCE}:s1:`, null, { kind: 'terminate', graceMs: 1000 });
    assert.deepEqual(all.slice(4), [`__TRL_TAG=${INSTANCE}:s1:`, 'session', 'terminate', '20', '60']);
    assert.deepEqual(killArgv('i:s:', null, { kind: 'list' }).slice(5, 7), ['session', 'list']);
  });
});
